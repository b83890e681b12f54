"""Benchmark shim: with BRIDGE_PRELOAD empty fast_path preloads nothing and so opens no connection during INIT;
this opens it anyway, so the handshake overlaps the first request's lazy imports instead."""

import fast_path
from fast_path import lambda_handler  # noqa: F401

fast_path.preconnect()
