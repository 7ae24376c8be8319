/*
 * megforge/deconv.h - fp32 transposed convolution (ConvolutionBackwardData) in NCHW and
 * NC4HW4 (a.k.a. NCHW44) layouts.
 *
 * Layouts (all tensors dense, C order, float32):
 *   NCHW    activations  (N, C, H, W)
 *   NC4HW4  activations  (N, ceil(C/4), H, W, 4); channel c lives in block c/4, lane c%4;
 *           lanes past C are zero on output and ignored on input.
 *   weight  always PyTorch's transposed-convolution layout (C_in, C_out/groups, KH, KW).
 *   bias    (C_out) or NULL.
 * Output size per spatial axis: (in - 1)*stride - 2*pad + dilation*(kernel - 1) + output_padding + 1.
 *
 * Every function returning int returns MGF_OK (0) or an mgf_status; on failure
 * mgf_last_error() holds a message for the calling thread. Handles are opaque; free
 * functions accept NULL. Exported signatures never change: a changed call gets a _v2 name.
 */
#ifndef MEGFORGE_DECONV_H
#define MEGFORGE_DECONV_H

#include <stddef.h>
#include <stdint.h>

#if defined(MGF_DECONV_STATIC)
#  define MGF_DECONV_API
#elif defined(_WIN32) && defined(MGF_DECONV_BUILDING)
#  define MGF_DECONV_API __declspec(dllexport)
#elif defined(_WIN32)
#  define MGF_DECONV_API __declspec(dllimport)
#else
#  define MGF_DECONV_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define MGF_DECONV_VERSION_MAJOR 0
#define MGF_DECONV_VERSION_MINOR 1
#define MGF_DECONV_VERSION_PATCH 0
#define MGF_DECONV_VERSION_NUMBER \
  (MGF_DECONV_VERSION_MAJOR * 10000 + MGF_DECONV_VERSION_MINOR * 100 + MGF_DECONV_VERSION_PATCH)

/* Version of the library actually loaded (compare with MGF_DECONV_VERSION_NUMBER). */
MGF_DECONV_API unsigned mgf_deconv_version_number(void);

/* Status codes. Values are pinned: never renumber. */
typedef enum mgf_status {
  MGF_OK = 0,
  MGF_ERR_INVALID_ARGUMENT = 1, /* a parameter is out of range or inconsistent */
  MGF_ERR_UNSUPPORTED = 2,      /* valid, but this algorithm / layout cannot do it */
  MGF_ERR_OUT_OF_MEMORY = 3,
  MGF_ERR_INTERNAL = 4
} mgf_status;

/* Static name of a status ("MGF_ERR_INVALID_ARGUMENT"), "MGF_ERR_UNKNOWN" for other values. */
MGF_DECONV_API const char* mgf_status_name(int status);
/* Message of the last failing call on this thread; "" if none. Valid until the next call. */
MGF_DECONV_API const char* mgf_last_error(void);

/* Pinned values. */
typedef enum mgf_layout { MGF_LAYOUT_NCHW = 0, MGF_LAYOUT_NC4HW4 = 1 } mgf_layout;
typedef enum mgf_algo {
  MGF_ALGO_AUTO = 0,   /* pick per shape (see mgf_deconv_plan_algo) */
  MGF_ALGO_NAIVE = 1,  /* scalar reference loop, any layout */
  MGF_ALGO_NCHW = 2,   /* NCHW baseline: transposed-filter GEMM + col2im */
  MGF_ALGO_NC4HW4 = 3  /* NC4HW4 NEON kernels */
} mgf_algo;

/* Shape-independent description of one transposed convolution (2-D, fp32). */
typedef struct mgf_deconv_desc {
  int32_t in_channels;  /* C_in, divisible by groups */
  int32_t out_channels; /* C_out, divisible by groups */
  int32_t kernel_h, kernel_w;
  int32_t stride_h, stride_w;     /* >= 1 */
  int32_t pad_h, pad_w;           /* >= 0 */
  int32_t dilation_h, dilation_w; /* >= 1 */
  int32_t output_padding_h, output_padding_w; /* 0 <= op < max(stride, dilation) */
  int32_t groups;                 /* >= 1 */
} mgf_deconv_desc;

/* Validate a description; MGF_ERR_INVALID_ARGUMENT names the offending field. */
MGF_DECONV_API int mgf_deconv_check(const mgf_deconv_desc* desc);
/* Output spatial size for an input of in_h x in_w; fails if it would be <= 0. */
MGF_DECONV_API int mgf_deconv_output_size(const mgf_deconv_desc* desc, int32_t in_h, int32_t in_w,
                                          int32_t* out_h, int32_t* out_w);

/* A plan pre-packs the weights once for one description, layout and algorithm. */
typedef struct mgf_deconv_plan mgf_deconv_plan;

/* weight: (C_in, C_out/groups, KH, KW); bias: (C_out) or NULL. Both are copied (packed);
 * the caller keeps ownership. On success *plan owns its memory until mgf_deconv_plan_free. */
MGF_DECONV_API int mgf_deconv_plan_create(const mgf_deconv_desc* desc, const float* weight,
                                          const float* bias, int layout, int algo,
                                          mgf_deconv_plan** plan);
MGF_DECONV_API void mgf_deconv_plan_free(mgf_deconv_plan* plan);
/* The algorithm the plan resolved to (never MGF_ALGO_AUTO), or -1 for a NULL plan. */
MGF_DECONV_API int mgf_deconv_plan_algo(const mgf_deconv_plan* plan);
/* src: (batch, C_in, in_h, in_w) in the plan's layout; dst: (batch, C_out, out_h, out_w) in the
 * same layout, fully written. src and dst must not overlap. Thread-safe: one plan may run
 * concurrently on several threads. */
MGF_DECONV_API int mgf_deconv_plan_execute(const mgf_deconv_plan* plan, const float* src,
                                           int32_t batch, int32_t in_h, int32_t in_w, float* dst);

/* Name of the loop nest the plan runs for an in_h x in_w input: "nc4hw4-direct-phase",
 * "nc4hw4-gemm-col2im", "nc4hw4-depthwise-phase", "nchw-gemm-col2im" or "naive-scatter"
 * (static string); "" for a NULL plan or an input size the plan rejects. */
MGF_DECONV_API const char* mgf_deconv_plan_kernel_name(const mgf_deconv_plan* plan, int32_t in_h, int32_t in_w);
/* Instruction-set variant of the kernels in use: "neon" (arm64), "avx2" or "sse2" (x86, NEON
 * through SIMDe; the best the CPU supports unless the environment variable MGF_DECONV_ISA names
 * another available one at load time). Static string. */
MGF_DECONV_API const char* mgf_deconv_isa(void);

/* Worker threads used by kernels (process-wide). n >= 1; 0 means "one per CPU". */
MGF_DECONV_API int mgf_set_num_threads(int32_t n);
MGF_DECONV_API int32_t mgf_get_num_threads(void);

/* Relayout NCHW (n, c, h, w) <-> NC4HW4 (n, ceil(c/4), h, w, 4). Padding lanes are written as
 * zeros by mgf_nchw_to_nc4hw4 and ignored by mgf_nc4hw4_to_nchw. Buffers must not overlap. */
MGF_DECONV_API int mgf_nchw_to_nc4hw4(const float* src, int32_t n, int32_t c, int32_t h, int32_t w,
                                      float* dst);
MGF_DECONV_API int mgf_nc4hw4_to_nchw(const float* src, int32_t n, int32_t c, int32_t h, int32_t w,
                                      float* dst);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MEGFORGE_DECONV_H */
