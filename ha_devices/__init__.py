"""Operator actions over Home Assistant's REST and WebSocket APIs: the doctor, the entity list, state, call."""

from ha_devices.handlers import handle

__all__ = ["handle"]
