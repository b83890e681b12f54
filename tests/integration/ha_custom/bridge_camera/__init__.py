"""Cameras with a native WebRTC offer handler, for the bridge's WebRTC budget test (Alexa.RTCSessionController)."""
