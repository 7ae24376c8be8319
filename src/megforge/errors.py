"""One exception hierarchy for megforge.

Every error derives from :class:`MegforgeError` *and* from the builtin that best
describes it (``ValueError``, ``TypeError``, ...), so callers can catch either.
"""

from __future__ import annotations


class MegforgeError(Exception):
    """Base class of every error megforge raises on purpose."""


class InvalidArgumentError(MegforgeError, ValueError):
    """A value passed by the caller is out of range or inconsistent."""


class InvalidTypeError(MegforgeError, TypeError):
    """A value passed by the caller has the wrong type or dtype."""


class UnsupportedError(MegforgeError, ValueError):
    """The request is valid but this build or algorithm cannot serve it."""


class CheckpointError(MegforgeError, ValueError):
    """A checkpoint file or state dict is malformed, truncated or unsafe."""


class NativeLibraryError(MegforgeError, OSError):
    """A native megforge library is missing or failed in an unexpected way."""


class ToolchainError(MegforgeError, RuntimeError):
    """A build tool needed for a target is missing; the message says what to install."""


class VerifyError(MegforgeError, ValueError):
    """A wheel failed verification; the message names the file and the rule."""
