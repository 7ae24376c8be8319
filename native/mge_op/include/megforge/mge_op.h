/*
 * megforge/mge_op.h - libmegforge_mge_op.so, a MegEngine custom-op library running megforge's
 * NC4HW4 transposed convolution (megforge/deconv.h) inside MegEngine graphs.
 *
 * The library registers its ops with MegEngine when it is loaded; its only C API is the
 * version and thread-count calls below. Load it with megengine.core.ops.custom.load(path) in Python
 * (then custom.<op name>(**params)), or dlopen(path, RTLD_NOW | RTLD_GLOBAL) before a
 * MegEngine Lite network that contains these ops is loaded. It links libmegengine_shared.so
 * (RUNPATH $ORIGIN: it belongs in megengine/core/lib/ of an installed megengine).
 *
 * Ops (CPU, float32 only; inference only, no gradient):
 *
 *   MegforgeConvTranspose2dNC4HW4      inputs (x, weight)        -> y
 *   MegforgeConvTranspose2dNC4HW4Bias  inputs (x, weight, bias)  -> y
 *
 *   x       NC4HW4 activations (N, ceil(C_in/4), H, W, 4); channel c in block c/4, lane c%4;
 *           lanes past C_in are ignored.
 *   weight  MegEngine's / PyTorch's transposed-convolution weight, one memory order in two
 *           shapes: (C_in, C_out/groups, KH, KW), or MegEngine's grouped 5-D view
 *           (groups, C_in/groups, C_out/groups, KH, KW).
 *   bias    C_out values: (C_out) or (1, C_out, 1, 1).
 *   y       NC4HW4 (N, ceil(C_out/4), OH, OW, 4), lanes past C_out are zero;
 *           O = (I - 1)*stride - 2*pad + dilate*(K - 1) + output_pad + 1 per spatial axis.
 *
 *   int32 params (MegEngine's ConvolutionBackwardData names): stride_h, stride_w (1),
 *   pad_h, pad_w (0), dilate_h, dilate_w (1), output_pad_h, output_pad_w (0), groups (1).
 *
 * Bad shapes, dtypes or params raise MegEngine errors (Python exceptions) naming the value,
 * at graph-construction time where shapes are known.
 */
#ifndef MEGFORGE_MGE_OP_H
#define MEGFORGE_MGE_OP_H

#define MGF_MGE_OP_VERSION_MAJOR 0
#define MGF_MGE_OP_VERSION_MINOR 1
#define MGF_MGE_OP_VERSION_PATCH 0
#define MGF_MGE_OP_VERSION_NUMBER \
  (MGF_MGE_OP_VERSION_MAJOR * 10000 + MGF_MGE_OP_VERSION_MINOR * 100 + MGF_MGE_OP_VERSION_PATCH)

#define MGF_MGE_OP_DECONV "MegforgeConvTranspose2dNC4HW4"
#define MGF_MGE_OP_DECONV_BIAS "MegforgeConvTranspose2dNC4HW4Bias"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the loaded op library (compare with MGF_MGE_OP_VERSION_NUMBER). */
__attribute__((visibility("default"))) unsigned mgf_mge_op_version_number(void);

/* Worker threads of this library's deconvolution kernels (process-wide, default 1; its copy of
 * megforge's deconvolution is separate from megforge's Python package). n >= 1, or 0 for one
 * per CPU. Returns 0 on success, else an mgf_status value (megforge/deconv.h). */
__attribute__((visibility("default"))) int mgf_mge_op_set_num_threads(int n);
__attribute__((visibility("default"))) int mgf_mge_op_get_num_threads(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MEGFORGE_MGE_OP_H */
