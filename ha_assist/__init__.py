"""Alexa custom skill requests answered through Home Assistant Assist (the conversation API)."""

from ha_assist.handlers import handle

__all__ = ["handle"]
