"""megforge: MegEngine's 2022 community tasks as installable, tested wheels.

Subpackages load lazily so that ``import megforge`` stays cheap and works without
MegEngine installed (MegEngine exists only for CPython <= 3.10):

* :mod:`megforge.deconv`  - NC4HW4 / NCHW fp32 transposed convolution (native, ctypes)
* :mod:`megforge.lite`    - the drop-in LITE C API library with fork mode
* :mod:`megforge.models`  - CLIP, VQGAN, DALL-E, BigGAN / BigSleep on MegEngine
* :mod:`megforge.convert` - torch-free checkpoint readers (restricted unpickler, safetensors)
* :mod:`megforge.release` - build, repair, verify and publish wheels
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
