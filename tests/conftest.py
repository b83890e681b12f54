"""Shared fixtures: the Alexa schema, bridge settings, a scripted HA for unit tests. Helpers: support.py."""

import io
import json
import os

import pytest

from support import SCHEMA, DroppingListener, FakeHomeAssistant, ScriptedServer


@pytest.fixture(scope="session")
def alexa_schema():
    """A validator for Alexa Smart Home messages (Amazon's schema, read from ../shared)."""
    if not SCHEMA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the Alexa schema is missing at {SCHEMA}; CI must have ../shared")
        pytest.skip(f"the Alexa schema is not on this machine ({SCHEMA}); it ships beside the repo in CI")
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    add_documented_since_schema(schema)
    return jsonschema.Draft4Validator(schema)


# The schema file predates parts of Alexa's documented API that Home Assistant uses. Exactly these are added
# to it, nothing is loosened: display categories from Alexa's "Display categories" reference (REMOTE, which
# HA gives a remote, as the demo of HA 2026.x has), the
# Alexa.PlaybackStateReporter interface (Alexa's "PlaybackStateReporter Interface" reference), and the
# thermostat modes CUSTOM and EM_HEAT (Alexa's ThermostatController 3.2 "ThermostatMode values").
THERMOSTAT_MODES = ["CUSTOM", "EM_HEAT"]
DOCUMENTED_DISPLAY_CATEGORIES = ["AIR_CONDITIONER", "AIR_PURIFIER", "REMOTE", "VACUUM_CLEANER", "WATER_HEATER"]
PLAYBACK_STATE_REPORTER = {
    "type": "object",
    "required": ["type", "interface", "version"],
    "properties": {
        "type": {"enum": ["AlexaInterface"]},
        "interface": {"enum": ["Alexa.PlaybackStateReporter"]},
        "version": {"enum": ["3"]},
        "properties": {"type": "object"},
    },
}


def add_documented_since_schema(schema: dict) -> None:
    for message in schema["oneOf"]:
        endpoints = message.get("properties", {}).get("event", {}).get("properties", {}).get("payload", {})
        categories = endpoints.get("properties", {}).get("endpoints", {}).get("items", {}).get("properties", {})
        if "displayCategories" in categories:
            categories["displayCategories"]["items"]["enum"] += DOCUMENTED_DISPLAY_CATEGORIES
    capabilities = schema["definitions"]["endpoint.capabilities"]["items"]["anyOf"]
    capabilities.append(PLAYBACK_STATE_REPORTER)
    for capability in capabilities:
        configuration = capability.get("allOf", [{}, {}])[-1].get("properties", {}).get("configuration", {})
        modes = configuration.get("properties", {}).get("supportedModes", {}).get("items", {})
        if modes.get("enum") == ["AUTO", "COOL", "HEAT", "ECO", "OFF"]:
            modes["enum"] += THERMOSTAT_MODES


@pytest.fixture
def bridge_env(monkeypatch):
    """Set bridge settings for one test: `bridge_env(HA_URL=..., HA_TOKEN=...)`; other HA_ settings are cleared."""
    from gateway import config, ha_client, rooms, secrets

    for name in list(os.environ):
        if name.startswith(("HA_", "ASSIST_", "ALEXA_")):
            monkeypatch.delenv(name)

    def apply(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        config.settings.cache_clear()
        ha_client.forget_clients()
        secrets.clear_cache()
        rooms.forget()

    apply()
    yield apply
    config.settings.cache_clear()
    ha_client.forget_clients()
    secrets.clear_cache()
    rooms.forget()


@pytest.fixture
def fake_ha():
    """Start a FakeHomeAssistant: `fake_ha(answer)`; stopped after the test."""
    servers = []

    def start(answer):
        server = FakeHomeAssistant(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def scripted():
    """Start a ScriptedServer: `scripted(serve)`; closed after the test."""
    servers = []

    def start(serve):
        servers.append(ScriptedServer(serve))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def dropping():
    """Make DroppingListeners: `dropping()`; closed after the test."""
    listeners = []

    def make():
        listeners.append(DroppingListener())
        return listeners[-1]

    yield make
    for listener in listeners:
        listener.close()


@pytest.fixture
def output(capsys):
    """Everything the bridge prints from here on, its log lines and metrics: `output()` reads it."""
    from gateway.log import logger

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # bound to the stdout of its import, not the test's
    yield lambda: stream.getvalue() + "".join(capsys.readouterr())
    logger.registered_handler.setStream(previous)
