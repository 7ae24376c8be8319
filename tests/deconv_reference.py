"""The float64 transposed-convolution reference lives in megforge.testing (one implementation)."""

from megforge.testing import conv_transpose2d_reference as conv_transpose2d_ref  # noqa: F401
