"""Hot path: the init clock, event classification, the lazy feature loader and the preload.

Standard library only: a feature, and with it Powertools, is imported on first use or during INIT when named
in BRIDGE_PRELOAD. The other modules are imported by the feature that needs them.
"""

import importlib
import json
import os
import sys
import threading
import time

FEATURES = {"smart_home": "ha_alexa", "custom_skill": "ha_assist", "devices": "ha_devices"}
_LOADED_AT = time.perf_counter()


def _process_age_ms() -> float | None:
    """Milliseconds since this process started (10 ms resolution), from /proc; None where there is none."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of proc(5), starttime
        return round((time.clock_gettime(time.CLOCK_BOOTTIME) - started) * 1000, 1)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def classify(event) -> str | None:
    """The kind of an event (a key of FEATURES, or "warmup"), or None when it is none we serve."""
    if not isinstance(event, dict):
        return None
    # Anything directive-shaped goes to ha_alexa, which answers a malformed one with INVALID_DIRECTIVE.
    if isinstance(event.get("directive"), dict):
        return "smart_home"
    request = event.get("request")
    if "version" in event and isinstance(request, dict) and isinstance(request.get("type"), str):
        return "custom_skill"
    if isinstance(event.get("devices"), dict):
        return "devices"
    if event.get("warmup") is True or event.get("detail-type") == "Scheduled Event":
        return "warmup"
    return None


def load(kind: str):
    """The feature package that serves `kind`, imported on first use."""
    return importlib.import_module(FEATURES[kind])


def preload(names: str) -> dict[str, float]:
    """Import the named features now, during INIT, which runs on boosted CPU; returns each one's import ms."""
    imported = {}
    for name in filter(None, (part.strip() for part in names.split(","))):
        if name not in FEATURES.values():
            _log("WARNING", f"BRIDGE_PRELOAD names an unknown feature {name!r}; known: {sorted(FEATURES.values())}")
            continue
        started = time.perf_counter()
        try:
            importlib.import_module(name)
        except Exception as err:  # the first request imports it again and answers with the error
            _log("ERROR", f"preloading {name} failed: {type(err).__name__}: {err}")
        imported[name] = _ms_since(started)
    return imported


def preconnect() -> threading.Thread | None:
    """Open the connection to Home Assistant in the background, so its handshake overlaps the preload's imports.

    The first request then finds a live connection; if this fails, that request connects and reports the fault.
    """
    if not os.environ.get("HA_URL"):
        return None
    from gateway import ha_connection  # standard library only (socket, ssl): a few ms before the handshake starts

    thread = threading.Thread(target=ha_connection.preopen, name="preconnect", daemon=True)
    thread.start()
    return thread


def after_restore() -> None:
    """SnapStart: a restored snapshot's connection and init clock belong to another machine: drop both."""
    global _init
    _init = None
    connection_module = sys.modules.get("gateway.ha_connection")
    if connection_module is not None:
        connection_module.close_preopened()
    client_module = sys.modules.get("gateway.ha_client")
    if client_module is not None:
        client_module.close_connections()


def warm_up(event, context) -> dict:
    """Answer a warm-up ping; refresh the Home Assistant connection if a feature has opened one."""
    client_module = sys.modules.get("gateway.ha_client")
    if client_module is not None and event.get("connect", True):
        from gateway.ha_connection import deadline  # imported with the client

        try:
            client_module.default_client().connect(deadline(context, budget_s=2.0))
        except Exception as err:  # a warm-up must not fail; the next real request reports the fault
            return {"warmup": "ok", "connection": f"failed: {type(err).__name__}"}
    return {"warmup": "ok"}


def lambda_handler(event, context):
    global _init
    kind = None
    try:
        kind = classify(event)
        if kind is None:
            return {"error": {"type": "UNSUPPORTED_EVENT", "message": _describe(event)}}
        init, _init = _init, None  # reported once, by the first invocation that emits metrics
        if kind == "warmup":
            if init is None:
                return warm_up(event, context)
            # The cold start of this environment is this warm-up: report it.
            return importlib.import_module("gateway.metrics").run(warm_up, event, context, init, latency=False)
        feature = load(kind)
        return importlib.import_module("gateway.metrics").run(feature.handle, event, context, init)
    except Exception as err:  # features answer their own errors; this is the last line of defence
        _log("ERROR", f"unhandled {type(err).__name__} for a {kind} event")
        return {"error": {"type": "INTERNAL_ERROR", "message": f"the bridge failed: {type(err).__name__}"}}


def _describe(event) -> str:
    if not isinstance(event, dict):
        return f"expected a JSON object, got {type(event).__name__}"
    keys = ", ".join(sorted(str(key) for key in event)[:10]) or "none"
    return (
        "not an Alexa Smart Home directive, an Alexa skill request, a devices action or a warm-up"
        f" (top-level keys: {keys})"
    )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _log(level: str, message: str) -> None:
    print(json.dumps({"level": level, "location": "fast_path", "message": message}), file=sys.stderr)


_PRELOAD = os.environ.get("BRIDGE_PRELOAD", "ha_alexa")
_connecting = preconnect() if _PRELOAD.strip() else None
_preload_ms = preload(_PRELOAD)
_waited = time.perf_counter()
if _connecting is not None:
    # The first request would wait for it anyway; finished here, its TLS work runs on INIT's boosted CPU
    # (bench/results/candidates.md: modelled 128 MB cold request 0.90x).
    _connecting.join(2.0)
# INIT's phases, for the InitDuration metric and the "cold start" log line of the first invocation (gateway.metrics):
# runtime start to this module, each preloaded feature's import, the wait for the INIT connection.
_own_ms = _ms_since(_LOADED_AT)
_process_ms = _process_age_ms()
_init = {
    "init_ms": _process_ms or _own_ms,
    "runtime_ms": round(_process_ms - _own_ms, 1) if _process_ms else None,
    "preload_ms": _preload_ms,
    "connect_wait_ms": _ms_since(_waited) if _connecting is not None else None,
    "init_modules": len(sys.modules),
}
if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
    from snapshot_restore_py import register_after_restore  # provided by Lambda's Python runtime

    register_after_restore(after_restore)
