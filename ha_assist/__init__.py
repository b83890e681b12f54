"""Alexa custom skill requests answered through Home Assistant Assist (issue 3)."""
