"""JSON logs through Powertools Logger. Nothing here logs an event or a header: tokens travel in both."""

import os

from gateway.powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "ha-alexa-bridge")
