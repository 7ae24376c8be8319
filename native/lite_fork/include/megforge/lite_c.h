/*
 * megforge/lite_c.h - declarations of MegEngine Lite's C API (lite-c), written for megforge's
 * drop-in Lite library (libmegforge_lite). Types, values and signatures follow MegEngine's
 * documented lite-c headers (global_c.h, network_c.h, tensor_c.h, common_enum_c.h) as shipped by
 * the official 1.13 wheels, so programs written against lite-c compile and link against this file
 * and libmegforge_lite unchanged.
 *
 * Conventions of the API: every function returning int returns 0 on success and non-zero on
 * failure, with a message in LITE_get_last_error(). LiteNetwork and LiteTensor are opaque handles.
 *
 * libmegforge_lite decides once, when it is loaded, how to serve these calls (see
 * megforge/lite_fork.h): LITE_FORK_MODE unset or 0 forwards every call to the official library in
 * this process; LITE_FORK_MODE=1 runs the models in an isolated worker process.
 */
#ifndef MEGFORGE_LITE_C_H
#define MEGFORGE_LITE_C_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(MGF_LITE_BUILDING)
#  define MGF_LITE_API __declspec(dllexport)
#elif defined(_WIN32)
#  define MGF_LITE_API __declspec(dllimport)
#else
#  define MGF_LITE_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- enums (values pinned by the official library) ------------------------------------ */

typedef enum { DEBUG = 0, INFO = 1, WARN = 2, ERROR = 3 } LiteLogLevel;

typedef enum { OK = 0, LITE_INTERNAL_ERROR = 1, LITE_UNKNOWN_ERROR = 2 } ErrorCode;

typedef enum { LITE_DEFAULT = 0 } LiteBackend;

typedef enum {
  LITE_CPU = 0,
  LITE_CUDA = 1,
  LITE_ATLAS = 3,
  LITE_NPU = 4,
  LITE_CAMBRICON = 5,
  LITE_DEVICE_DEFAULT = 7 /* device taken from the model */
} LiteDeviceType;

/* Element types. LITE_UINT and LITE_INT64 exist in the enum but 1.13 rejects them. */
typedef enum {
  LITE_FLOAT = 0,
  LITE_HALF = 1,
  LITE_INT = 2,
  LITE_INT16 = 3,
  LITE_INT8 = 4,
  LITE_UINT8 = 5,
  LITE_UINT = 6,
  LITE_UINT16 = 7,
  LITE_INT64 = 8
} LiteDataType;

typedef enum { LITE_IO = 0, LITE_INPUT = 1, LITE_OUTPUT = 2 } LiteTensorPhase;

typedef enum { LITE_IO_VALUE = 0, LITE_IO_SHAPE = 1 } LiteIOType;

/* Flags; may be or-ed. */
typedef enum {
  LITE_ALGO_HEURISTIC = 1 << 0,
  LITE_ALGO_PROFILE = 1 << 1,
  LITE_ALGO_REPRODUCIBLE = 1 << 2,
  LITE_ALGO_OPTIMIZED = 1 << 3
} LiteAlgoSelectStrategy;

/* ---- tensors ------------------------------------------------------------------------------ */

#define LAYOUT_MAX_DIM (7)

/* A dense layout: shapes[0..ndim), element type. */
typedef struct LiteLayout {
  size_t shapes[LAYOUT_MAX_DIM];
  size_t ndim;
  LiteDataType data_type;
} LiteLayout;

typedef struct LiteTensorDesc {
  int is_pinned_host; /* only meaningful for non-CPU devices */
  LiteLayout layout;
  LiteDeviceType device_type;
  int device_id;
} LiteTensorDesc;

typedef void* LiteTensor;

/* ---- networks ----------------------------------------------------------------------------- */

/* Inference options; see MegEngine's documentation of lite::Options for each field. */
typedef struct Options {
  int weight_preprocess;
  int fuse_preprocess;
  int fake_next_exec;
  int var_sanity_check_first_run;
  int const_shape;
  int force_dynamic_alloc;
  int force_output_dynamic_alloc;
  int force_output_use_user_specified_memory;
  int no_profiling_on_shape_change;
  int jit_level;
  int comp_node_seq_record_level;
  int graph_opt_level;
  int async_exec_level;
  /* layout transform options */
  int enable_nchw44;
  int enable_nchw44_dot;
  int enable_nchw88;
  int enable_nhwcd4;
  int enable_nchw4;
  int enable_nchw32;
  int enable_nchw64;
} LiteOptions;

typedef struct LiteConfig {
  int has_compression;
  int device_id;
  LiteDeviceType device_type;
  LiteBackend backend;
  const char* bare_model_cryption_name; /* may be NULL */
  LiteOptions options;
  int auto_optimize_inference;
  const char* discrete_input_name; /* may be NULL */
} LiteConfig;

typedef struct LiteIO {
  const char* name;
  int is_host;
  LiteIOType io_type;
  LiteLayout config_layout;
} LiteIO;

typedef struct LiteNetworkIO {
  LiteIO* inputs;
  LiteIO* outputs;
  size_t input_size;
  size_t output_size;
} LiteNetworkIO;

typedef struct LiteExtraConfig {
  int disable_configure_by_model_info;
} LiteExtraConfig;

typedef void* LiteNetwork;

typedef void* (*LiteAllocate)(LiteDeviceType device_type, int device_id, size_t size, size_t align);
typedef void (*LiteFree)(LiteDeviceType device_type, int device_id, void* ptr);
typedef int (*LiteThreadAffinityCallback)(int thread_id);
typedef int (*LiteAsyncCallback)(void);
typedef int (*LiteAsyncCallbackWithData)(void* user_data);
typedef int (*LiteStartCallback)(const LiteIO* inputs, const LiteTensor* input_tensors, size_t size);
typedef int (*LiteStartCallbackWithData)(const LiteIO* inputs, const LiteTensor* input_tensors,
                                         size_t size, void* user_data);
typedef int (*LiteFinishCallback)(const LiteIO* outputs, const LiteTensor* output_tensors, size_t size);
typedef int (*LiteFinishCallbackWithData)(const LiteIO* outputs, const LiteTensor* output_tensors,
                                          size_t size, void* user_data);

/* ---- global ------------------------------------------------------------------------------- */

/* Decrypt input_data with key_data into output_data; with output_data == NULL return the size only. */
typedef size_t (*LiteDecryptionFunc)(const void* input_data, size_t input_size, const uint8_t* key_data,
                                     size_t key_size, const void* output_data);
typedef int (*LiteParseInfoFunc)(const void* info_data, size_t info_size, const char* model_name,
                                 LiteConfig* config, LiteNetworkIO* network_io, int* device_id,
                                 size_t* nr_threads, int* is_cpu_inplace_mode, int* use_tensorrt);

/* Defaults of the official library (device_id -1, CPU, graph_opt_level 2, ...). */
MGF_LITE_API LiteConfig* default_config(void);
MGF_LITE_API LiteNetworkIO* default_network_io(void);

MGF_LITE_API int LITE_get_version(int* major, int* minor, int* patch);
MGF_LITE_API ErrorCode LITE_get_last_error_code(void);
MGF_LITE_API void LITE_clear_last_error(void);
MGF_LITE_API const char* LITE_get_last_error(void);
MGF_LITE_API int LITE_get_device_count(LiteDeviceType device_type, size_t* count);
MGF_LITE_API int LITE_try_coalesce_all_free_memory(void);
MGF_LITE_API int LITE_register_decryption_and_key(const char* decrypt_name, const LiteDecryptionFunc func,
                                                  const uint8_t* key_data, size_t key_size);
MGF_LITE_API int LITE_update_decryption_or_key(const char* decrypt_name, const LiteDecryptionFunc func,
                                               const uint8_t* key_data, size_t key_size);
MGF_LITE_API int LITE_register_parse_info_func(const char* info_type, const LiteParseInfoFunc parse_func);
MGF_LITE_API int LITE_set_loader_lib_path(const char* loader_path);
MGF_LITE_API int LITE_set_persistent_cache(const char* cache_path, int always_sync);
MGF_LITE_API int LITE_set_tensor_rt_cache(const char* cache_path);
MGF_LITE_API int LITE_set_log_level(LiteLogLevel level);
MGF_LITE_API int LITE_get_log_level(LiteLogLevel* level);
MGF_LITE_API int LITE_dump_persistent_cache(const char* cache_path);
MGF_LITE_API int LITE_dump_tensor_rt_cache(void);
MGF_LITE_API int LITE_register_memory_pair(void* vir_ptr, void* phy_ptr, size_t length, LiteDeviceType device,
                                           LiteBackend backend);
MGF_LITE_API int LITE_clear_memory_pair(void* vir_ptr, void* phy_ptr, LiteDeviceType device, LiteBackend backend);
MGF_LITE_API int LITE_lookup_physic_ptr(void* vir_ptr, void** phy_ptr, LiteDeviceType device, LiteBackend backend);

/* ---- tensor functions --------------------------------------------------------------------- */

MGF_LITE_API int LITE_make_tensor(const LiteTensorDesc tensor_describe, LiteTensor* tensor);
MGF_LITE_API int LITE_destroy_tensor(LiteTensor tensor);
MGF_LITE_API int LITE_set_tensor_layout(LiteTensor tensor, const LiteLayout layout);
MGF_LITE_API int LITE_reset_tensor_memory(LiteTensor tensor, void* prepared_data, size_t data_length_in_byte);
MGF_LITE_API int LITE_reset_tensor(LiteTensor tensor, const LiteLayout layout, void* prepared_data);
MGF_LITE_API int LITE_tensor_reshape(LiteTensor tensor, const int* shape, int size);
MGF_LITE_API int LITE_tensor_slice(const LiteTensor tensor, const size_t* start, const size_t* end,
                                   const size_t* step, size_t size, LiteTensor* slice_tensor);
MGF_LITE_API int LITE_tensor_fill_zero(LiteTensor tensor);
MGF_LITE_API int LITE_tensor_copy(LiteTensor dst_tensor, const LiteTensor src_tensor);
MGF_LITE_API int LITE_tensor_share_memory_with(LiteTensor dst_tensor, const LiteTensor src_tensor);
MGF_LITE_API int LITE_get_tensor_memory(const LiteTensor tensor, void** data);
MGF_LITE_API int LITE_get_tensor_memory_with_index(const LiteTensor tensor, const size_t* index, size_t size,
                                                   void** data);
MGF_LITE_API int LITE_get_tensor_total_size_in_byte(const LiteTensor tensor, size_t* size);
MGF_LITE_API int LITE_get_tensor_layout(const LiteTensor tensor, LiteLayout* layout);
MGF_LITE_API int LITE_get_tensor_device_type(const LiteTensor tensor, LiteDeviceType* device_type);
MGF_LITE_API int LITE_get_tensor_device_id(const LiteTensor tensor, int* device_id);
MGF_LITE_API int LITE_is_pinned_host(const LiteTensor tensor, int* is_pinned_host);
MGF_LITE_API int LITE_is_memory_continue(const LiteTensor tensor, int* is_continue);
MGF_LITE_API int LITE_tensor_concat(LiteTensor* tensors, int nr_tensor, int dim, LiteDeviceType dst_device,
                                    int device_id, LiteTensor* result_tensor);

/* ---- network functions -------------------------------------------------------------------- */

MGF_LITE_API int LITE_make_default_network(LiteNetwork* network);
MGF_LITE_API int LITE_make_network(LiteNetwork* network, const LiteConfig config, const LiteNetworkIO network_io);
MGF_LITE_API int LITE_make_network_config(LiteNetwork* network, const LiteConfig config);
MGF_LITE_API int LITE_load_model_from_mem(LiteNetwork network, void* model_mem, size_t size);
MGF_LITE_API int LITE_load_model_from_path(LiteNetwork network, const char* model_path);
MGF_LITE_API int LITE_shared_weight_with_network(LiteNetwork dst_network, const LiteNetwork src_network);
MGF_LITE_API int LITE_destroy_network(LiteNetwork network);
MGF_LITE_API int LITE_forward(const LiteNetwork network);
MGF_LITE_API int LITE_wait(const LiteNetwork network);
MGF_LITE_API int LITE_get_io_tensor(LiteNetwork network, const char* io_name, LiteTensorPhase phase,
                                    LiteTensor* tensor);
MGF_LITE_API int LITE_get_discrete_tensor(LiteNetwork network, const char* io_name, size_t n_idx,
                                          LiteTensorPhase phase, LiteTensor* tensor);
MGF_LITE_API int LITE_get_input_name(const LiteNetwork network, size_t index, const char** name);
MGF_LITE_API int LITE_get_output_name(const LiteNetwork network, size_t index, const char** name);
MGF_LITE_API int LITE_get_all_input_name(const LiteNetwork network, size_t* size, const char** name);
MGF_LITE_API int LITE_get_all_output_name(const LiteNetwork network, size_t* size, const char** name);
MGF_LITE_API int LITE_is_cpu_inplace_mode(const LiteNetwork network, int* is_cpu_inplace_mode);
MGF_LITE_API int LITE_get_cpu_threads_number(const LiteNetwork network, size_t* nr_threads);
MGF_LITE_API int LITE_get_device_id(const LiteNetwork network, int* device_id);
MGF_LITE_API int LITE_get_stream_id(const LiteNetwork network, int* stream_id);
MGF_LITE_API int LITE_get_device_type(const LiteNetwork network, LiteDeviceType* device_type);
MGF_LITE_API int LITE_get_model_extra_info(const LiteNetwork network, const char** info, int* info_size);
MGF_LITE_API int LITE_set_cpu_inplace_mode(LiteNetwork network);
MGF_LITE_API int LITE_set_cpu_threads_number(LiteNetwork network, size_t nr_threads);
MGF_LITE_API int LITE_set_device_id(LiteNetwork network, int device_id);
MGF_LITE_API int LITE_set_stream_id(LiteNetwork network, int stream_id);
MGF_LITE_API int LITE_use_tensorrt(LiteNetwork network);
MGF_LITE_API int LITE_set_network_algo_policy(LiteNetwork network, LiteAlgoSelectStrategy strategy);
MGF_LITE_API int LITE_set_network_algo_fastrun_config(LiteNetwork network, unsigned int shared_batch_size,
                                                      int binary_equal_between_batch);
MGF_LITE_API int LITE_set_network_algo_workspace_limit(LiteNetwork network, size_t workspace_limit);
MGF_LITE_API int LITE_set_async_callback(LiteNetwork network, const LiteAsyncCallback async_callback);
MGF_LITE_API int LITE_set_async_callback_with_userdata(LiteNetwork network,
                                                       const LiteAsyncCallbackWithData async_callback,
                                                       void* user_data);
MGF_LITE_API int LITE_set_start_callback(LiteNetwork network, const LiteStartCallback start_callback);
MGF_LITE_API int LITE_set_start_callback_with_userdata(LiteNetwork network,
                                                       const LiteStartCallbackWithData start_callback,
                                                       void* user_data);
MGF_LITE_API int LITE_set_finish_callback(LiteNetwork network, const LiteFinishCallback finish_callback);
MGF_LITE_API int LITE_set_finish_callback_with_userdata(LiteNetwork network,
                                                        const LiteFinishCallbackWithData finish_callback,
                                                        void* user_data);
MGF_LITE_API int LITE_set_runtime_thread_affinity(LiteNetwork network,
                                                  const LiteThreadAffinityCallback thread_affinity_callback);
MGF_LITE_API int LITE_set_memory_allocator(LiteNetwork network, const LiteAllocate allocate_fun,
                                           const LiteFree free_fun);
/* dst_network shares the runtime memory of src_network (the spelling is the official one). */
MGF_LITE_API int LITE_share_runtime_memroy(LiteNetwork dst_network, LiteNetwork src_network);
MGF_LITE_API int LITE_enable_profile_performance(LiteNetwork network, const char* profile_json_file_path);
MGF_LITE_API int LITE_enable_io_txt_dump(LiteNetwork network, const char* io_txt_out_file);
MGF_LITE_API int LITE_enable_io_bin_dump(LiteNetwork network, const char* io_bin_out_dir);
MGF_LITE_API int LITE_get_static_memory_alloc_info(LiteNetwork network, const char* log_dir);
MGF_LITE_API int LITE_enable_global_layout_transform(LiteNetwork network);
MGF_LITE_API int LITE_dump_layout_transform_model(LiteNetwork network, const char* dump_file_path);
MGF_LITE_API int LITE_get_model_io_info_by_path(const char* model_path, const LiteConfig config,
                                                LiteNetworkIO* ios);
MGF_LITE_API int LITE_get_model_io_info_by_memory(const void* model_mem, size_t size, const LiteConfig config,
                                                  LiteNetworkIO* ios);
MGF_LITE_API int LITE_extra_configure(LiteNetwork network, LiteExtraConfig extra_config);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MEGFORGE_LITE_C_H */
