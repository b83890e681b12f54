"""A local stand-in for Amazon's Skill Management API (SMAPI) and its Login with Amazon token endpoint.

It serves on 127.0.0.1 for the real ASK CLI (pointed here by ASK_SMAPI_SERVER_BASE_URL and ASK_LWA_TOKEN_HOST)
and checks every request against Amazon's own published SMAPI definition, the Swagger 2.0 `spec.json` of the npm
package ask-smapi-model: the path and method must be an operation of it, the path, query and body parameters must
match it, and a body must validate against its schema, strictly (a property the definition does not declare is
refused, where SMAPI would ignore it silently and the setup's intent would be lost). Answers are SMAPI's: status
codes, bodies that validate against the operation's response schema, asynchronous manifest and interaction model
builds that stay IN_PROGRESS for a poll or two. Anything sent elsewhere (the CLI's telemetry, through the HTTPS
proxy the tests set) is refused and recorded in `outside`, so a test can assert nothing left the machine.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema

BUILD_POLLS = 1  # status reads that still see IN_PROGRESS after a change, as SMAPI's builds take a moment


def _strict(definitions: dict) -> dict:
    """The definitions with additionalProperties false wherever an object lists its properties plainly."""
    strict = copy.deepcopy(definitions)
    for schema in strict.values():
        if (schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema
                and "discriminator" not in schema and "allOf" not in schema):
            schema["additionalProperties"] = False
    return strict


class SmapiSpec:
    """The operations of spec.json, matched by method and path."""

    def __init__(self, path: Path):
        spec = json.loads(Path(path).read_text())
        self.definitions = _strict(spec["definitions"])
        self.loose = spec["definitions"]
        self.operations = []
        for template, methods in spec["paths"].items():
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            for method, operation in methods.items():
                if isinstance(operation, dict) and "responses" in operation:
                    self.operations.append((method.upper(), re.compile(f"^{pattern}$"), template, operation))

    def match(self, method: str, path: str):
        for op_method, pattern, template, operation in self.operations:
            found = pattern.match(path)
            if op_method == method and found:
                return template, operation, found.groupdict()
        return None

    def violations(self, schema: dict, value, strict: bool = True) -> list[str]:
        document = {**schema, "definitions": self.definitions if strict else self.loose}
        validator = jsonschema.Draft4Validator(document)
        return [f"{'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message}"
                for error in validator.iter_errors(value)]

    def check_request(self, operation: dict, path_params: dict, query: dict, body) -> list[str]:
        problems = []
        for parameter in operation.get("parameters", []):
            where, name = parameter["in"], parameter["name"]
            if where == "path":
                value = path_params.get(name, "")
                if not parameter.get("minLength", 1) <= len(value) <= parameter.get("maxLength", 10**6):
                    problems.append(f"path parameter {name}: length {len(value)}")
            elif where == "query" and parameter.get("required") and name not in query:
                problems.append(f"query parameter {name} is required")
            elif where == "body":
                if body is None:
                    if parameter.get("required"):
                        problems.append("the body is required")
                else:
                    problems += self.violations(parameter["schema"], body)
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        problems += [f"query parameter {name} is not in the definition" for name in query if name not in declared]
        return problems


class SmapiStandIn:
    """SMAPI's skills, account linking, credentials and interaction models, in memory; every call recorded."""

    def __init__(self, spec_path: Path, refresh_token: str, vendor_id: str):
        self.spec = SmapiSpec(spec_path)
        self.refresh_token, self.vendor_id = refresh_token, vendor_id
        self.access_token = "Atza|standin-" + uuid.uuid4().hex
        self.messaging_secret = "amzn1.oa2-cs.v1." + uuid.uuid4().hex
        self.skills: dict[str, dict] = {}
        self.calls: list[dict] = []  # {"method", "path", "query", "body", "status"}
        self.outside: list[str] = []
        self.fail_next: dict[tuple[str, str], int] = {}  # (method, spec path template) -> status, once
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self.server.shutdown()
        self.server.server_close()

    def calls_to(self, method: str, template: str) -> list[dict]:
        return [call for call in self.calls if call["method"] == method and call.get("template") == template]

    # ---- SMAPI's behaviour ----

    def _status(self, skill: dict) -> dict:
        status = {}
        for key, resource in [("manifest", skill["manifest_build"]), *skill["model_builds"].items()]:
            resource["polls"] += 1
            state = "IN_PROGRESS" if resource["polls"] <= BUILD_POLLS else "SUCCEEDED"
            entry = {"lastUpdateRequest": {"status": state}, "eTag": resource["etag"]}
            if key == "manifest":
                status["manifest"] = entry
            else:
                status.setdefault("interactionModel", {})[key] = entry
        return status

    @staticmethod
    def _build() -> dict:
        return {"polls": 0, "etag": uuid.uuid4().hex}

    def answer(self, method: str, template: str, params: dict, query: dict, body):
        """(status, body or None, headers) for one request that passed the definition."""
        if template == "/v1/skills" and method == "POST":
            if body.get("vendorId") != self.vendor_id:
                return 403, {"message": "You are not authorized to access this vendor."}, {}
            skill_id = f"amzn1.ask.skill.{uuid.UUID(int=next(self._ids))}"
            self.skills[skill_id] = {"manifest": body["manifest"], "manifest_build": self._build(),
                                     "model_builds": {}, "models": {}, "linking": None}
            return 202, {"skillId": skill_id}, {"Location": f"/v1/skills/{skill_id}/status?resource=manifest"}
        if template == "/v1/skills" and method == "GET":
            skills = [{"skillId": skill_id, "apis": list(skill["manifest"]["apis"]),
                       "nameByLocale": {locale: info.get("name", "") for locale, info in
                                        skill["manifest"]["publishingInformation"]["locales"].items()}}
                      for skill_id, skill in self.skills.items()]
            return 200, {"skills": skills}, {}
        skill = self.skills.get(params.get("skillId"))
        if skill is None:
            return 404, {"message": "The resource being requested is not found."}, {}
        if params.get("stageV2", "development") != "development":
            return 404, {"message": "The skill has no such stage."}, {}
        if template.endswith("/status"):
            return 200, self._status(skill), {}
        if template.endswith("/manifest"):
            if method == "GET":
                return 200, {"manifest": skill["manifest"]}, {"ETag": skill["manifest_build"]["etag"]}
            skill["manifest"], skill["manifest_build"] = body["manifest"], self._build()
            return 202, None, {"Location": f"/v1/skills/{params['skillId']}/status?resource=manifest"}
        if template.endswith("/accountLinkingClient"):
            if method == "GET":
                if skill["linking"] is None:
                    return 404, {"message": "Account linking is not set up for this skill."}, {}
                shown = {k: v for k, v in skill["linking"].items() if k != "clientSecret"}  # SMAPI never returns it
                return 200, {"accountLinkingResponse": shown}, {"ETag": uuid.uuid4().hex}
            skill["linking"] = body["accountLinkingRequest"]
            return 204, None, {}
        if template.endswith("/credentials"):
            return 200, {"skillMessagingCredentials": {"clientId": "amzn1.application-oa2-client." + params[
                "skillId"][-12:], "clientSecret": self.messaging_secret}}, {}
        if template.endswith("/interactionModel/locales/{locale}"):
            locale = params["locale"]
            if method == "GET":
                if locale not in skill["models"]:
                    return 404, {"message": "The interaction model does not exist."}, {}
                return 200, skill["models"][locale], {"ETag": skill["model_builds"][locale]["etag"]}
            skill["models"][locale], skill["model_builds"][locale] = body, self._build()
            return 202, None, {"Location": f"/v1/skills/{params['skillId']}/status?resource=interactionModel"}
        return 501, {"message": f"the stand-in does not implement {method} {template}"}, {}

    # ---- HTTP ----

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def _send(self, status: int, body=None, headers=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_CONNECT(self):
                standin.outside.append(f"CONNECT {self.path}")
                self._send(403, {"message": "the stand-in lets nothing leave the machine"})

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not self.path.startswith("/"):  # an absolute URL: a request for another host, through the proxy
                    standin.outside.append(f"{self.command} {self.path}")
                    return self._send(403, {"message": "the stand-in lets nothing leave the machine"})
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                with standin._lock:
                    status, body, headers = self._route(url.path, query, raw)
                self._send(status, body, headers)

            def _route(self, path: str, query: dict, raw: bytes):
                if path == "/auth/o2/token" and self.command == "POST":
                    form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
                    if raw[:1] == b"{":
                        form = json.loads(raw)
                    standin.calls.append({"method": "POST", "path": path, "template": "lwa", "body": None})
                    if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != standin.refresh_token:
                        return 400, {"error": "invalid_grant", "error_description": "bad refresh token"}, {}
                    return 200, {"access_token": standin.access_token, "refresh_token": standin.refresh_token,
                                 "token_type": "bearer", "expires_in": 3600}, {}
                found = standin.spec.match(self.command, path)
                call = {"method": self.command, "path": path, "query": query, "body": None}
                standin.calls.append(call)
                if found is None:
                    call["status"] = 404
                    return 404, {"message": f"{self.command} {path} is not an operation of SMAPI"}, {}
                template, operation, params = found
                call["template"] = template
                if self.headers.get("Authorization") not in (standin.access_token, "Bearer " + standin.access_token):
                    call["status"] = 401
                    return 401, {"message": "Token is invalid or expired."}, {}
                try:
                    call["body"] = json.loads(raw) if raw else None
                except ValueError:
                    call["status"] = 400
                    return 400, {"message": "the body is not JSON"}, {}
                problems = standin.spec.check_request(operation, params, query, call["body"])
                if problems:
                    call["status"], call["violations"] = 400, problems
                    return 400, {"message": "Request is not valid.", "violations": [
                        {"code": "INVALID_REQUEST_PARAMETER", "message": p} for p in problems]}, {}
                injected = standin.fail_next.pop((self.command, template), None)
                if injected:
                    call["status"] = injected
                    return injected, {"message": "Internal Server Error (injected by the test)"}, {}
                status, body, headers = standin.answer(self.command, template, params, query, call["body"])
                call["status"] = status
                schema = (operation["responses"].get(str(status)) or {}).get("schema")
                if schema and body is not None:  # the stand-in's own answers must be SMAPI's
                    wrong = standin.spec.violations(schema, body, strict=False)
                    assert not wrong, f"stand-in answer for {template} breaks the definition: {wrong}"
                return status, body, headers

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        return Handler
