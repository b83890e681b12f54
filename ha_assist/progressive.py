"""Progressive responses: Alexa says "one moment" through its directive service while Home Assistant thinks.

Sent only when Home Assistant has not answered after SEND_AFTER_S: the built-in agent answers in 20 to 500 ms
(over a second only when it first loads a language), an LLM agent takes seconds. Sending it on every request
would make every quick answer start with "one moment" and cost a TLS handshake to Alexa's API.
The send runs on a timer thread, so it never delays the answer; its failure is only logged.
"""

import json
import threading
import time
from urllib.parse import urlsplit

from gateway.log import logger
from ha_assist.request import SkillRequest

SEND_AFTER_S = 1.5
SEND_TIMEOUT_S = 2.0
DIRECTIVES_PATH = "/v1/directives"
# Alexa's apiEndpoint is https; plain http is accepted for a local stand-in only (tests, local runs).
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def schedule(request: SkillRequest, speech_ssml: str, after_s: float | None = None) -> threading.Timer | None:
    """Start a timer that sends `speech_ssml` after `after_s` (SEND_AFTER_S); cancel it once the answer is ready.

    None when the request carries no directive service (a test event, a local run).
    """
    if not (request.api_endpoint and request.api_access_token and request.request_id):
        return None
    timer = threading.Timer(SEND_AFTER_S if after_s is None else after_s, _send_quietly, args=(request, speech_ssml))
    timer.daemon = True  # never keeps the process alive, never waited for
    timer.start()
    return timer


def send(api_endpoint: str, api_access_token: str, request_id: str, speech_ssml: str,
         timeout: float = SEND_TIMEOUT_S) -> int:
    """POST one VoicePlayer.Speak directive for request `request_id`; returns the HTTP status (204: accepted)."""
    import http.client  # the stdlib client; no other HTTP library on this path

    parts = urlsplit(api_endpoint)
    if parts.scheme == "https" and parts.hostname:
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout)
    elif parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    else:
        raise ValueError("the apiEndpoint is not an https URL")
    body = {"header": {"requestId": request_id}, "directive": {"type": "VoicePlayer.Speak", "speech": speech_ssml}}
    headers = {"Authorization": f"Bearer {api_access_token}", "Content-Type": "application/json"}
    try:
        conn.request("POST", parts.path.rstrip("/") + DIRECTIVES_PATH, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _send_quietly(request: SkillRequest, speech_ssml: str) -> None:
    started = time.perf_counter()
    try:
        status = send(request.api_endpoint, request.api_access_token, request.request_id, speech_ssml)
    except Exception as err:  # a thread must not raise; the answer goes out without it
        logger.warning("progressive response failed", extra={"reason": type(err).__name__})
        return
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    if 200 <= status < 300:
        logger.info("progressive response sent", extra={"send_ms": elapsed_ms})
    else:
        logger.warning("progressive response refused", extra={"status": status, "send_ms": elapsed_ms})
