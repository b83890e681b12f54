"""Operator actions over Home Assistant's REST and WebSocket APIs (issue 4)."""
