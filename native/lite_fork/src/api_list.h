// Every int-returning LITE_* function of the official 1.13 library, as X(name, (params), (args)).
// The three non-int functions (LITE_get_last_error, LITE_get_last_error_code,
// LITE_clear_last_error) are handled by hand. One list drives the real-library symbol table,
// the pass-through exports and the fork-mode exports, so none can miss a function.
#pragma once

#include "megforge/lite_c.h"

#define MGF_LITE_INT_API(X)                                                                           \
  /* global */                                                                                        \
  X(LITE_get_version, (int* major, int* minor, int* patch), (major, minor, patch))                    \
  X(LITE_get_device_count, (LiteDeviceType device_type, size_t* count), (device_type, count))         \
  X(LITE_try_coalesce_all_free_memory, (void), ())                                                    \
  X(LITE_register_decryption_and_key,                                                                 \
    (const char* name, const LiteDecryptionFunc func, const uint8_t* key, size_t key_size),           \
    (name, func, key, key_size))                                                                      \
  X(LITE_update_decryption_or_key,                                                                    \
    (const char* name, const LiteDecryptionFunc func, const uint8_t* key, size_t key_size),           \
    (name, func, key, key_size))                                                                      \
  X(LITE_register_parse_info_func, (const char* info_type, const LiteParseInfoFunc parse_func),       \
    (info_type, parse_func))                                                                          \
  X(LITE_set_loader_lib_path, (const char* path), (path))                                             \
  X(LITE_set_persistent_cache, (const char* path, int always_sync), (path, always_sync))              \
  X(LITE_set_tensor_rt_cache, (const char* path), (path))                                             \
  X(LITE_set_log_level, (LiteLogLevel level), (level))                                                \
  X(LITE_get_log_level, (LiteLogLevel* level), (level))                                               \
  X(LITE_dump_persistent_cache, (const char* path), (path))                                           \
  X(LITE_dump_tensor_rt_cache, (void), ())                                                            \
  X(LITE_register_memory_pair,                                                                        \
    (void* vir_ptr, void* phy_ptr, size_t length, LiteDeviceType device, LiteBackend backend),        \
    (vir_ptr, phy_ptr, length, device, backend))                                                      \
  X(LITE_clear_memory_pair, (void* vir_ptr, void* phy_ptr, LiteDeviceType device, LiteBackend backend), \
    (vir_ptr, phy_ptr, device, backend))                                                              \
  X(LITE_lookup_physic_ptr, (void* vir_ptr, void** phy_ptr, LiteDeviceType device, LiteBackend backend), \
    (vir_ptr, phy_ptr, device, backend))                                                              \
  /* tensor */                                                                                        \
  X(LITE_make_tensor, (const LiteTensorDesc desc, LiteTensor* tensor), (desc, tensor))                \
  X(LITE_destroy_tensor, (LiteTensor tensor), (tensor))                                               \
  X(LITE_set_tensor_layout, (LiteTensor tensor, const LiteLayout layout), (tensor, layout))           \
  X(LITE_reset_tensor_memory, (LiteTensor tensor, void* data, size_t length), (tensor, data, length)) \
  X(LITE_reset_tensor, (LiteTensor tensor, const LiteLayout layout, void* data), (tensor, layout, data)) \
  X(LITE_tensor_reshape, (LiteTensor tensor, const int* shape, int size), (tensor, shape, size))      \
  X(LITE_tensor_slice,                                                                                \
    (const LiteTensor tensor, const size_t* start, const size_t* end, const size_t* step, size_t size, \
     LiteTensor* slice),                                                                              \
    (tensor, start, end, step, size, slice))                                                          \
  X(LITE_tensor_fill_zero, (LiteTensor tensor), (tensor))                                             \
  X(LITE_tensor_copy, (LiteTensor dst, const LiteTensor src), (dst, src))                             \
  X(LITE_tensor_share_memory_with, (LiteTensor dst, const LiteTensor src), (dst, src))                \
  X(LITE_get_tensor_memory, (const LiteTensor tensor, void** data), (tensor, data))                   \
  X(LITE_get_tensor_memory_with_index, (const LiteTensor tensor, const size_t* index, size_t size, void** data), \
    (tensor, index, size, data))                                                                      \
  X(LITE_get_tensor_total_size_in_byte, (const LiteTensor tensor, size_t* size), (tensor, size))      \
  X(LITE_get_tensor_layout, (const LiteTensor tensor, LiteLayout* layout), (tensor, layout))          \
  X(LITE_get_tensor_device_type, (const LiteTensor tensor, LiteDeviceType* device_type), (tensor, device_type)) \
  X(LITE_get_tensor_device_id, (const LiteTensor tensor, int* device_id), (tensor, device_id))        \
  X(LITE_is_pinned_host, (const LiteTensor tensor, int* is_pinned_host), (tensor, is_pinned_host))    \
  X(LITE_is_memory_continue, (const LiteTensor tensor, int* is_continue), (tensor, is_continue))      \
  X(LITE_tensor_concat,                                                                               \
    (LiteTensor* tensors, int nr_tensor, int dim, LiteDeviceType dst_device, int device_id, LiteTensor* result), \
    (tensors, nr_tensor, dim, dst_device, device_id, result))                                         \
  /* network */                                                                                       \
  X(LITE_make_default_network, (LiteNetwork* network), (network))                                     \
  X(LITE_make_network, (LiteNetwork* network, const LiteConfig config, const LiteNetworkIO io),       \
    (network, config, io))                                                                            \
  X(LITE_make_network_config, (LiteNetwork* network, const LiteConfig config), (network, config))     \
  X(LITE_load_model_from_mem, (LiteNetwork network, void* model_mem, size_t size), (network, model_mem, size)) \
  X(LITE_load_model_from_path, (LiteNetwork network, const char* path), (network, path))              \
  X(LITE_shared_weight_with_network, (LiteNetwork dst, const LiteNetwork src), (dst, src))            \
  X(LITE_destroy_network, (LiteNetwork network), (network))                                           \
  X(LITE_forward, (const LiteNetwork network), (network))                                             \
  X(LITE_wait, (const LiteNetwork network), (network))                                                \
  X(LITE_get_io_tensor, (LiteNetwork network, const char* name, LiteTensorPhase phase, LiteTensor* tensor), \
    (network, name, phase, tensor))                                                                   \
  X(LITE_get_discrete_tensor,                                                                         \
    (LiteNetwork network, const char* name, size_t n_idx, LiteTensorPhase phase, LiteTensor* tensor), \
    (network, name, n_idx, phase, tensor))                                                            \
  X(LITE_get_input_name, (const LiteNetwork network, size_t index, const char** name), (network, index, name)) \
  X(LITE_get_output_name, (const LiteNetwork network, size_t index, const char** name), (network, index, name)) \
  X(LITE_get_all_input_name, (const LiteNetwork network, size_t* size, const char** name), (network, size, name)) \
  X(LITE_get_all_output_name, (const LiteNetwork network, size_t* size, const char** name), (network, size, name)) \
  X(LITE_is_cpu_inplace_mode, (const LiteNetwork network, int* inplace), (network, inplace))          \
  X(LITE_get_cpu_threads_number, (const LiteNetwork network, size_t* nr_threads), (network, nr_threads)) \
  X(LITE_get_device_id, (const LiteNetwork network, int* device_id), (network, device_id))            \
  X(LITE_get_stream_id, (const LiteNetwork network, int* stream_id), (network, stream_id))            \
  X(LITE_get_device_type, (const LiteNetwork network, LiteDeviceType* device_type), (network, device_type)) \
  X(LITE_get_model_extra_info, (const LiteNetwork network, const char** info, int* info_size),        \
    (network, info, info_size))                                                                       \
  X(LITE_set_cpu_inplace_mode, (LiteNetwork network), (network))                                      \
  X(LITE_set_cpu_threads_number, (LiteNetwork network, size_t nr_threads), (network, nr_threads))     \
  X(LITE_set_device_id, (LiteNetwork network, int device_id), (network, device_id))                   \
  X(LITE_set_stream_id, (LiteNetwork network, int stream_id), (network, stream_id))                   \
  X(LITE_use_tensorrt, (LiteNetwork network), (network))                                              \
  X(LITE_set_network_algo_policy, (LiteNetwork network, LiteAlgoSelectStrategy strategy), (network, strategy)) \
  X(LITE_set_network_algo_fastrun_config,                                                             \
    (LiteNetwork network, unsigned int shared_batch_size, int binary_equal_between_batch),            \
    (network, shared_batch_size, binary_equal_between_batch))                                         \
  X(LITE_set_network_algo_workspace_limit, (LiteNetwork network, size_t limit), (network, limit))     \
  X(LITE_set_async_callback, (LiteNetwork network, const LiteAsyncCallback cb), (network, cb))        \
  X(LITE_set_async_callback_with_userdata,                                                            \
    (LiteNetwork network, const LiteAsyncCallbackWithData cb, void* user_data), (network, cb, user_data)) \
  X(LITE_set_start_callback, (LiteNetwork network, const LiteStartCallback cb), (network, cb))        \
  X(LITE_set_start_callback_with_userdata,                                                            \
    (LiteNetwork network, const LiteStartCallbackWithData cb, void* user_data), (network, cb, user_data)) \
  X(LITE_set_finish_callback, (LiteNetwork network, const LiteFinishCallback cb), (network, cb))      \
  X(LITE_set_finish_callback_with_userdata,                                                           \
    (LiteNetwork network, const LiteFinishCallbackWithData cb, void* user_data), (network, cb, user_data)) \
  X(LITE_set_runtime_thread_affinity, (LiteNetwork network, const LiteThreadAffinityCallback cb), (network, cb)) \
  X(LITE_set_memory_allocator, (LiteNetwork network, const LiteAllocate alloc, const LiteFree free_fn), \
    (network, alloc, free_fn))                                                                        \
  X(LITE_share_runtime_memroy, (LiteNetwork dst, LiteNetwork src), (dst, src))                        \
  X(LITE_enable_profile_performance, (LiteNetwork network, const char* path), (network, path))        \
  X(LITE_enable_io_txt_dump, (LiteNetwork network, const char* path), (network, path))                \
  X(LITE_enable_io_bin_dump, (LiteNetwork network, const char* path), (network, path))                \
  X(LITE_get_static_memory_alloc_info, (LiteNetwork network, const char* log_dir), (network, log_dir)) \
  X(LITE_enable_global_layout_transform, (LiteNetwork network), (network))                            \
  X(LITE_dump_layout_transform_model, (LiteNetwork network, const char* path), (network, path))       \
  X(LITE_get_model_io_info_by_path, (const char* path, const LiteConfig config, LiteNetworkIO* ios),  \
    (path, config, ios))                                                                              \
  X(LITE_get_model_io_info_by_memory,                                                                 \
    (const void* model_mem, size_t size, const LiteConfig config, LiteNetworkIO* ios),                \
    (model_mem, size, config, ios))                                                                   \
  X(LITE_extra_configure, (LiteNetwork network, LiteExtraConfig extra), (network, extra))
