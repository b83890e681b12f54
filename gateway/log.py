"""JSON logs through Powertools Logger. Nothing here logs an event or a header: tokens travel in both."""

from gateway.config import names
from gateway.powertools import Logger

logger = Logger(service=names().service)
