"""A real nginx reverse proxy in front of a local Home Assistant, as most owners who expose it run one.

Used by the integration tests: `with ReverseProxy(upstream_port, keepalive_requests=3) as proxy: proxy.url`.
It passes WebSocket upgrades for /api/websocket the way Home Assistant's documentation shows, or, with
`websocket=False`, drops the upgrade headers as a proxy configured without them does; `forwarded_for` sends that
client address in X-Forwarded-For (a header only: Home Assistant with `trusted_proxies` then takes the request as
coming from there, e.g. from the internet, as Lambda's do). nginx comes from
Debian's `nginx-light` package (`make test` installs it when it is missing and the user may).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from devtools.demo_ha import free_port, http

CONFIG = """
daemon off;
master_process off;
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        keepalive_requests {keepalive_requests};
        location / {{
            proxy_pass http://127.0.0.1:{upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
{upgrade}{forwarded}        }}
    }}
}}
"""
UPGRADE = """            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
"""


def nginx_binary() -> str:
    """The nginx executable; raises RuntimeError saying how to install it."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if not found:
        raise RuntimeError("nginx is not installed: `apt-get install nginx-light` (make test does this as root)")
    return found


class ReverseProxy:
    """nginx on a free 127.0.0.1 port, proxying to Home Assistant on `upstream_port`."""

    def __init__(self, upstream_port: int, keepalive_requests: int = 1000, websocket: bool = True,
                 forwarded_for: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="bridge-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        upgrade = UPGRADE if websocket else ""
        forwarded = f"            proxy_set_header X-Forwarded-For {forwarded_for};\n" if forwarded_for else ""
        (self.dir / "nginx.conf").write_text(CONFIG.format(dir=self.dir, port=self.port, upstream_port=upstream_port,
                                                           keepalive_requests=keepalive_requests, upgrade=upgrade,
                                                           forwarded=forwarded))
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> ReverseProxy:
        self.process = subprocess.Popen([nginx_binary(), "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode(errors='replace')[-500:]}")
            try:
                http("GET", self.url + "/", timeout=1.0)
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ReverseProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
