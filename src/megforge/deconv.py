"""fp32 transposed convolution (MegEngine's ConvolutionBackwardData) in NCHW and NC4HW4.

Layouts (float32, C-contiguous):

* ``NCHW``   activations ``(N, C, H, W)``
* ``NC4HW4`` activations ``(N, ceil(C/4), H, W, 4)`` (MegEngine calls it NCHW44): channel ``c``
  lives in block ``c // 4``, lane ``c % 4``; lanes past ``C`` are zero on output, ignored on input.
* ``weight`` is always PyTorch's transposed-convolution layout ``(C_in, C_out/groups, KH, KW)``.

Output size per axis: ``(H - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``.

Calls go to ``libmegforge_deconv`` through ctypes; the GIL is released while it computes.
"""

from __future__ import annotations

import ctypes
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from megforge import _native
from megforge.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    NativeLibraryError,
    UnsupportedError,
)

__all__ = [
    "DeconvPlan",
    "conv_transpose2d",
    "to_nc4hw4",
    "from_nc4hw4",
    "output_size",
    "set_num_threads",
    "get_num_threads",
    "isa",
]

IntPair = Union[int, Sequence[int]]

LAYOUTS = {"NCHW": 0, "NC4HW4": 1, "NCHW44": 1}
ALGOS = {"auto": 0, "naive": 1, "nchw": 2, "nc4hw4": 3}
_ALGO_NAMES = {v: k for k, v in ALGOS.items()}

# Pinned status codes of megforge/deconv.h.
_OK, _INVALID, _UNSUPPORTED, _NOMEM = 0, 1, 2, 3

_f32p = ctypes.POINTER(ctypes.c_float)
_i32 = ctypes.c_int32


class _Desc(ctypes.Structure):
    _fields_ = [
        (name, _i32)
        for name in (
            "in_channels", "out_channels", "kernel_h", "kernel_w", "stride_h", "stride_w",
            "pad_h", "pad_w", "dilation_h", "dilation_w", "output_padding_h", "output_padding_w",
            "groups",
        )
    ]


def _lib() -> ctypes.CDLL:
    lib = _native.load("megforge_deconv")
    if not getattr(lib, "_megforge_typed", False):
        lib.mgf_last_error.restype = ctypes.c_char_p
        lib.mgf_deconv_version_number.restype = ctypes.c_uint
        lib.mgf_deconv_output_size.argtypes = [ctypes.POINTER(_Desc), _i32, _i32, ctypes.POINTER(_i32), ctypes.POINTER(_i32)]
        lib.mgf_deconv_plan_create.argtypes = [ctypes.POINTER(_Desc), _f32p, _f32p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
        lib.mgf_deconv_plan_free.argtypes = [ctypes.c_void_p]
        lib.mgf_deconv_plan_free.restype = None
        lib.mgf_deconv_plan_algo.argtypes = [ctypes.c_void_p]
        lib.mgf_deconv_plan_execute.argtypes = [ctypes.c_void_p, _f32p, _i32, _i32, _i32, _f32p]
        lib.mgf_deconv_plan_kernel_name.argtypes = [ctypes.c_void_p, _i32, _i32]
        lib.mgf_deconv_plan_kernel_name.restype = ctypes.c_char_p
        lib.mgf_deconv_isa.restype = ctypes.c_char_p
        lib.mgf_set_num_threads.argtypes = [_i32]
        lib.mgf_get_num_threads.restype = _i32
        for fn in (lib.mgf_nchw_to_nc4hw4, lib.mgf_nc4hw4_to_nchw):
            fn.argtypes = [_f32p, _i32, _i32, _i32, _i32, _f32p]
        lib._megforge_typed = True
    return lib


def _check(status: int, what: str) -> None:
    if status == _OK:
        return
    message = _lib().mgf_last_error().decode("utf-8", "replace")
    if status == _INVALID:
        raise InvalidArgumentError(f"{what}: {message}")
    if status == _UNSUPPORTED:
        raise UnsupportedError(f"{what}: {message}")
    if status == _NOMEM:
        raise MemoryError(f"{what}: {message}")
    raise NativeLibraryError(f"{what}: internal error {status}: {message}")


def _ptr(a: np.ndarray) -> ctypes._Pointer:
    return a.ctypes.data_as(_f32p)


def _pair(name: str, value: IntPair) -> Tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        return int(value[0]), int(value[1])
    raise InvalidTypeError(f"{name} must be an int or a pair of ints, got {value!r}")


def _array(name: str, a: object, ndims: Tuple[int, ...]) -> np.ndarray:
    """Check that ``a`` is a C-contiguous, aligned float32 ndarray with one of ``ndims``."""
    if not isinstance(a, np.ndarray):
        raise InvalidTypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != np.float32:
        raise InvalidTypeError(f"{name} must be float32, got {a.dtype}")
    if a.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise InvalidArgumentError(f"{name} must be {want}, got shape {a.shape}")
    if not a.flags.c_contiguous:
        raise InvalidArgumentError(f"{name} must be C-contiguous (use numpy.ascontiguousarray), got strides {a.strides}")
    if not a.flags.aligned:
        raise InvalidArgumentError(f"{name} is not aligned to 4 bytes (data address {a.ctypes.data:#x})")
    if a.size == 0:
        raise InvalidArgumentError(f"{name} is empty, shape {a.shape}")
    return a


def _layout_code(layout: str) -> int:
    if not isinstance(layout, str) or layout.upper() not in LAYOUTS:
        raise InvalidArgumentError(f"layout must be one of NCHW, NC4HW4 (alias NCHW44), got {layout!r}")
    return LAYOUTS[layout.upper()]


def _algo_code(algo: str) -> int:
    if not isinstance(algo, str) or algo.lower() not in ALGOS:
        raise InvalidArgumentError(f"algo must be one of {', '.join(ALGOS)}, got {algo!r}")
    return ALGOS[algo.lower()]


def to_nc4hw4(x: np.ndarray) -> np.ndarray:
    """NCHW ``(N, C, H, W)`` float32 -> NC4HW4 ``(N, ceil(C/4), H, W, 4)``, zero-padding channels."""
    x = _array("x", x, (4,))
    n, c, h, w = x.shape
    out = np.empty((n, (c + 3) // 4, h, w, 4), dtype=np.float32)
    _check(_lib().mgf_nchw_to_nc4hw4(_ptr(x), n, c, h, w, _ptr(out)), "to_nc4hw4")
    return out


def from_nc4hw4(x: np.ndarray, channels: int) -> np.ndarray:
    """NC4HW4 ``(N, ceil(C/4), H, W, 4)`` float32 -> NCHW ``(N, channels, H, W)``."""
    x = _array("x", x, (5,))
    n, blocks, h, w, lanes = x.shape
    if lanes != 4:
        raise InvalidArgumentError(f"NC4HW4 arrays end in a dimension of 4, got shape {x.shape}")
    if not isinstance(channels, (int, np.integer)) or isinstance(channels, bool):
        raise InvalidTypeError(f"channels must be an int, got {channels!r}")
    if not (blocks - 1) * 4 < channels <= blocks * 4:
        raise InvalidArgumentError(f"channels={channels} does not fit {blocks} blocks of 4 (shape {x.shape})")
    out = np.empty((n, int(channels), h, w), dtype=np.float32)
    _check(_lib().mgf_nc4hw4_to_nchw(_ptr(x), n, int(channels), h, w, _ptr(out)), "from_nc4hw4")
    return out


class DeconvPlan:
    """Weights pre-packed once for one transposed convolution; call it on many inputs.

    ``weight``: float32 ``(C_in, C_out/groups, KH, KW)``; ``bias``: float32 ``(C_out,)`` or None.
    ``layout`` is the layout of the inputs and outputs of :meth:`__call__`; ``algo`` one of
    ``auto``, ``nc4hw4``, ``nchw``, ``naive`` (see :attr:`algo` for what ``auto`` picked).
    A plan is immutable and may be called from several threads at once.
    """

    def __init__(
        self,
        weight: np.ndarray,
        bias: Optional[np.ndarray] = None,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        output_padding: IntPair = 0,
        layout: str = "NCHW",
        algo: str = "auto",
    ) -> None:
        self._handle = ctypes.c_void_p()
        weight = _array("weight", weight, (4,))
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool):
            raise InvalidTypeError(f"groups must be an int, got {groups!r}")
        if groups < 1:
            raise InvalidArgumentError(f"groups must be >= 1, got {groups}")
        c_in, c_out_g, kh, kw = weight.shape
        self.in_channels, self.out_channels = int(c_in), int(c_out_g) * int(groups)
        self.layout = "NC4HW4" if _layout_code(layout) == 1 else "NCHW"
        if bias is not None:
            bias = _array("bias", bias, (1,))
            if bias.shape[0] != self.out_channels:
                raise InvalidArgumentError(
                    f"bias has {bias.shape[0]} elements, expected C_out={self.out_channels} "
                    f"(weight.shape[1]={c_out_g} x groups={groups})"
                )
        desc = _Desc()
        desc.in_channels, desc.out_channels = self.in_channels, self.out_channels
        desc.kernel_h, desc.kernel_w = kh, kw
        desc.stride_h, desc.stride_w = _pair("stride", stride)
        desc.pad_h, desc.pad_w = _pair("padding", padding)
        desc.dilation_h, desc.dilation_w = _pair("dilation", dilation)
        desc.output_padding_h, desc.output_padding_w = _pair("output_padding", output_padding)
        desc.groups = int(groups)
        self._desc = desc
        lib = _lib()
        _check(
            lib.mgf_deconv_plan_create(
                ctypes.byref(desc), _ptr(weight), None if bias is None else _ptr(bias),
                _layout_code(layout), _algo_code(algo), ctypes.byref(self._handle),
            ),
            "DeconvPlan",
        )
        self._free = lib.mgf_deconv_plan_free

    @property
    def algo(self) -> str:
        """The algorithm this plan runs (``auto`` resolved)."""
        return _ALGO_NAMES[_lib().mgf_deconv_plan_algo(self._handle)]

    def kernel_name(self, height: int, width: int) -> str:
        """Loop nest this plan runs for a ``height x width`` input, e.g. ``nc4hw4-direct-phase``."""
        if not self._handle:
            raise InvalidArgumentError("this DeconvPlan has been closed")
        self.output_hw(height, width)  # raises a clear error for a bad size
        return _lib().mgf_deconv_plan_kernel_name(self._handle, int(height), int(width)).decode()

    def output_hw(self, height: int, width: int) -> Tuple[int, int]:
        """Output ``(H_out, W_out)`` for an input of ``height x width``."""
        return output_size(self._desc, height, width)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Run on ``x`` (in the plan's layout); returns a new float32 array in the same layout."""
        if not self._handle:
            raise InvalidArgumentError("this DeconvPlan has been closed")
        if self.layout == "NCHW":
            x = _array("x", x, (4,))
            n, c, h, w = x.shape
            if c != self.in_channels:
                raise InvalidArgumentError(f"x has {c} channels (shape {x.shape}), weight expects C_in={self.in_channels}")
        else:
            x = _array("x", x, (5,))
            n, blocks, h, w, lanes = x.shape
            want = (self.in_channels + 3) // 4
            if lanes != 4 or blocks != want:
                raise InvalidArgumentError(
                    f"NC4HW4 x must have shape (N, {want}, H, W, 4) for C_in={self.in_channels}, got {x.shape}"
                )
        oh, ow = self.output_hw(h, w)
        if self.layout == "NCHW":
            out = np.empty((n, self.out_channels, oh, ow), dtype=np.float32)
        else:
            out = np.empty((n, (self.out_channels + 3) // 4, oh, ow, 4), dtype=np.float32)
        _check(_lib().mgf_deconv_plan_execute(self._handle, _ptr(x), n, h, w, _ptr(out)), "conv_transpose2d")
        return out

    def close(self) -> None:
        """Free the packed weights now (also done when the plan is garbage-collected)."""
        if getattr(self, "_handle", None):
            self._free(self._handle)
            self._handle = ctypes.c_void_p()

    def __enter__(self) -> "DeconvPlan":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


def output_size(desc: _Desc, height: int, width: int) -> Tuple[int, int]:
    """Output spatial size of ``desc`` for an input of ``height x width``."""
    oh, ow = _i32(), _i32()
    _check(_lib().mgf_deconv_output_size(ctypes.byref(desc), int(height), int(width), ctypes.byref(oh), ctypes.byref(ow)), "output size")
    return oh.value, ow.value


def conv_transpose2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: Optional[np.ndarray] = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    output_padding: IntPair = 0,
    layout: str = "NCHW",
    algo: str = "auto",
) -> np.ndarray:
    """Transposed convolution of ``x`` (NCHW or NC4HW4, see module doc); output in x's layout.

    Equivalent to ``torch.nn.functional.conv_transpose2d`` for NCHW. Packs the weights on every
    call; build a :class:`DeconvPlan` to reuse them.
    """
    with DeconvPlan(weight, bias, stride, padding, dilation, groups, output_padding, layout, algo) as plan:
        return plan(x)


def set_num_threads(n: int) -> None:
    """Worker threads for the kernels (process-wide); 0 = one per CPU."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise InvalidTypeError(f"num_threads must be an int, got {n!r}")
    _check(_lib().mgf_set_num_threads(int(n)), "set_num_threads")


def get_num_threads() -> int:
    """Current worker-thread count."""
    return int(_lib().mgf_get_num_threads())


def isa() -> str:
    """Kernel instruction set in use: ``neon`` (arm64), ``avx2`` or ``sse2`` (x86, NEON via SIMDe).

    The best the CPU supports; the environment variable ``MGF_DECONV_ISA`` (read when the
    library loads) can force another variant this build has.
    """
    return _lib().mgf_deconv_isa().decode()
