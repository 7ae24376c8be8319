"""One module per ``megforge`` sub-command; each exposes ``register(subparsers)``.

``register`` must stay cheap: import heavy modules (MegEngine, numpy kernels)
inside the command function, not at module import.
"""
