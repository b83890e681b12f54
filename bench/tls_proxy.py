"""A TLS front for a plain-HTTP server that adds a network round-trip delay and counts connections.

    python -m bench.tls_proxy http://127.0.0.1:8123 --delay-ms 40

It stands in for the internet between Lambda and a Home Assistant behind a reverse proxy. Two stages in one
asyncio loop:

    client --TCP--> [link: every chunk waits delay/2, in each direction] --TCP--> [TLS terminator] --HTTP--> upstream

The link delays the bytes on the wire, TLS records included, like a network with that round-trip time and no
bandwidth limit: a TLS 1.3 handshake costs one round trip and each HTTP request/response exchange one more. The
TCP handshake is done by the kernel before the proxy sees the connection, so it is not delayed: a new connection
costs one round trip less than on a real network, which favours the clients that reconnect (the baselines).
Timers run on asyncio's clock: each crossing waits delay/2 plus up to about 1 ms.

The certificate is made at start: a throwaway CA, and a server certificate for 127.0.0.1 and localhost signed by
it; clients trust `ca_file` (the bridge through HA_CA_BUNDLE). Printed on start (CLI): one JSON line with `url`
and `ca_file`. Then each line `count` on stdin is answered with `{"connections": N}`; end of stdin stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHUNK = 65536


def make_certificates(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """Write a throwaway CA and a server certificate for `host` and localhost: (ca.pem, server.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench throwaway CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    names = [x509.DNSName("localhost")]
    try:
        names.insert(0, x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.insert(0, x509.DNSName(host))
    server = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(server.public_bytes(pem) + ca.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float = 0.0) -> None:
    """Copy bytes from reader to writer, each chunk delivered delay_s after it arrived, in order; then close."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def deliver():
        try:
            while True:
                due, data = await queue.get()
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:  # the other side went away
            pass
        finally:
            writer.close()

    delivery = asyncio.create_task(deliver())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((loop.time() + delay_s, data))
    except OSError:
        pass
    queue.put_nowait((loop.time() + delay_s, b""))  # the end of the stream crosses the link too
    await delivery


class DelayedTLSProxy:
    """The proxy in a thread of this process (tests); `ProxyProcess` runs the same in its own process."""

    def __init__(self, upstream: str, delay_ms: float = 40.0, host: str = "127.0.0.1", port: int = 0):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be a plain http:// URL, not {upstream!r}")
        self.upstream = parts.hostname, parts.port or 80
        self.delay_ms, self.host, self.port = float(delay_ms), host, port
        self.connections = 0  # TCP connections accepted from clients: one per TLS handshake
        self.url = self.ca_file = None
        self._dir = self._thread = self._loop = self._stopping = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> DelayedTLSProxy:
        self._dir = Path(tempfile.mkdtemp(prefix="bench-tls-"))
        ca, chain, key = make_certificates(self._dir, self.host)
        self.ca_file = str(ca)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(chain, key)
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(context),), name="tls-proxy",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error:
            raise RuntimeError(f"the TLS proxy did not start: {self._error!r}")
        self.url = f"https://{self.host}:{self.port}"
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(5)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> DelayedTLSProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    async def _main(self, context: ssl.SSLContext) -> None:
        try:
            self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
            terminator = await asyncio.start_server(self._terminate, "127.0.0.1", 0, ssl=context)
            self._terminator_port = terminator.sockets[0].getsockname()[1]
            front = await asyncio.start_server(self._accept, self.host, self.port)
            self.port = front.sockets[0].getsockname()[1]
        except BaseException as err:
            self._error = err
            raise
        finally:
            self._ready.set()
        await self._stopping.wait()
        front.close()
        terminator.close()  # asyncio.run cancels the connections still open

    async def _accept(self, reader, writer) -> None:
        self.connections += 1
        delay_s = self.delay_ms / 2000
        try:
            inner_reader, inner_writer = await asyncio.open_connection("127.0.0.1", self._terminator_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, inner_writer, delay_s), _pipe(inner_reader, writer, delay_s))

    async def _terminate(self, reader, writer) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


class ProxyProcess:
    """The proxy in its own process, so its work never holds the GIL of the process that measures."""

    def __init__(self, upstream: str, delay_ms: float = 40.0, python: str = sys.executable):
        self.command = [python, "-m", "bench.tls_proxy", upstream, "--delay-ms", str(delay_ms)]
        self.delay_ms = float(delay_ms)
        self.url = self.ca_file = self.process = None

    def start(self) -> ProxyProcess:
        self.process = subprocess.Popen(self.command, cwd=PROJECT_ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        hello = self._line()
        self.url, self.ca_file = hello["url"], hello["ca_file"]
        return self

    @property
    def connections(self) -> int:
        """The connections accepted so far, asked of the proxy (exact: no line is in flight)."""
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return self._line()["connections"]

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.stdin.close()  # end of stdin: the proxy stops and removes its certificates
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process = None

    def __enter__(self) -> ProxyProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _line(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the TLS proxy exited (status {self.process.poll()})")
        return json.loads(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tls_proxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream", help="plain HTTP base URL to forward to, e.g. http://127.0.0.1:8123")
    parser.add_argument("--delay-ms", type=float, default=40.0, help="round-trip delay added (default 40)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free one)")
    args = parser.parse_args(argv)
    with DelayedTLSProxy(args.upstream, args.delay_ms, args.host, args.port) as proxy:
        print(json.dumps({"url": proxy.url, "ca_file": proxy.ca_file, "delay_ms": proxy.delay_ms}), flush=True)
        for line in sys.stdin:
            if line.strip() == "count":
                print(json.dumps({"connections": proxy.connections}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
