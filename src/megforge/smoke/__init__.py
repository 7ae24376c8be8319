"""Smoke tests that run against an installed megforge (``python -m megforge.smoke.<name>``)."""
