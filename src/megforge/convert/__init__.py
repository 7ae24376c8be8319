"""Torch-free checkpoint readers and writers.

Checkpoints are untrusted input: they are never unpickled with plain ``pickle`` or
``torch.load``. Readers rebuild tensors only (as numpy arrays) through a restricted
unpickler, or read safetensors.
"""
