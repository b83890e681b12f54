"""Benchmark shim: the bridge with its INIT preconnect off. fast_path opens no connection when HA_URL is unset
while it initialises; the URL is back before the first request (gateway.config reads it on first use)."""

import os

_url = os.environ.pop("HA_URL", None)
try:
    from fast_path import lambda_handler  # noqa: F401
finally:
    if _url is not None:
        os.environ["HA_URL"] = _url
