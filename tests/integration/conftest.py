"""Integration tests run against a real Home Assistant core on 127.0.0.1 (devtools.demo_ha).

Fixtures:

- ``ha``: one ``DemoHomeAssistant`` with ``alexa: smart_home:`` and the demo entities, started once for the
  whole session and shared by every test. Read from it freely; don't stop, restart or reconfigure it.
- ``make_ha``: a factory for a test's own Home Assistant, started when called and stopped after the test:
  ``make_ha(alexa=False)`` for one without the Alexa endpoint, ``make_ha(alexa={"filter": {...}})`` for one
  with that ``smart_home:`` config, ``make_ha(http={"login_attempts_threshold": 3})`` for more ``http:``
  settings, or ``own = make_ha()`` to stop or restart it without disturbing the other
  tests. Each starts in about 4 s.
- ``custom_ha``: a test's own Home Assistant with the custom integrations of tests/integration/ha_custom.

The release is $BRIDGE_HA_VERSION's (``oldest``, ``newest``; `make test` runs the suite against each), else the
newest this machine's own Pythons run. The first run installs Home Assistant into ``$BRIDGE_CACHE`` (about 2
minutes). These tests never skip for want of a Home Assistant: one that cannot start fails them, with its log
tail in the message. A test that holds on some releases only skips on the others, saying so (``ha.version``).
"""

import contextlib
import shutil
import time
from pathlib import Path

import pytest

from devtools.demo_ha import DemoHomeAssistant
from devtools.ha_install import install


def start_or_fail(ha: DemoHomeAssistant) -> DemoHomeAssistant:
    try:
        return ha.start()
    except Exception as err:  # noqa: BLE001 - any failure to start is a test failure, never a skip
        pytest.fail(f"Home Assistant could not start: {err}", pytrace=False)


@pytest.fixture(scope="session")
def ha_venv(request):
    """The cached Home Assistant venv; its first install shows progress instead of a silent wait."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        try:
            installed = install()
        except Exception as err:  # noqa: BLE001 - a missing Python fails the tests, with what to do, never a skip
            pytest.fail(f"Home Assistant could not be installed: {err}", pytrace=False)
        print(f"\nintegration tests against {installed.describe()}", flush=True)
        return installed


@pytest.fixture(scope="session")
def ha(ha_venv, tmp_path_factory):
    demo = DemoHomeAssistant(tmp_path_factory.mktemp("ha"), alexa=True)
    start_or_fail(demo)
    yield demo
    demo.stop()


@pytest.fixture
def make_ha(ha_venv, tmp_path_factory):
    started = []

    def make(alexa: bool | dict = True, **options) -> DemoHomeAssistant:
        demo = DemoHomeAssistant(tmp_path_factory.mktemp("ha"), alexa=alexa, **options)
        started.append(demo)
        return start_or_fail(demo)

    yield make
    for demo in started:
        demo.stop()


@pytest.fixture
def custom_ha(ha_venv, tmp_path):
    """A test's own Home Assistant with the custom integrations of tests/integration/ha_custom, stopped after the
    test: ``own, found = custom_ha(extra_config, ready)`` starts it with that configuration.yaml addition and waits
    up to 30 s until ``ready(own)`` is truthy (an entity or device the integration adds); ``found`` is its value."""
    started = []

    def start(extra_config: str, ready):
        shutil.copytree(Path(__file__).with_name("ha_custom"), tmp_path / "custom_components")
        own = start_or_fail(DemoHomeAssistant(tmp_path, extra_config=extra_config))
        started.append(own)
        until = time.monotonic() + 30
        while not (found := ready(own)) and time.monotonic() < until:
            time.sleep(0.5)
        return own, found

    yield start
    for own in started:
        own.stop()
