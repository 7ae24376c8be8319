"""Cross-modal models on MegEngine: CLIP, VQGAN, DALL-E (dVAE + transformer), BigGAN / BigSleep.

Every family exposes ``from_state_dict(state_dict, config=None)`` taking the reference
implementation's exact key names mapped to numpy arrays, and returns an eval-mode
MegEngine ``Module`` with the reference's method names and return structure.
Importing a family imports MegEngine (CPython <= 3.10).
"""
