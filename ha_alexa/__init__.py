"""Alexa Smart Home directives, forwarded to Home Assistant's own Alexa endpoint."""

from ha_alexa.handlers import handle

__all__ = ["handle"]
