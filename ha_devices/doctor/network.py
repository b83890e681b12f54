"""The doctor's network checks: the URL, DNS, the TCP connection, TLS and the certificate."""

import ipaddress
import socket
import ssl
import time
from urllib.parse import urlsplit

from gateway.config import SettingError, settings
from gateway.ha_client import default_client
from gateway.ha_connection import hostport, resolve
from ha_devices import certificate
from ha_devices.doctor.advice import FIX_CLIENT_CERT, FIX_PROXY, FIX_TLS, FIX_UNREACHABLE, FIX_URL, TLS_FIXES
from ha_devices.doctor.outcome import Outcome, Probe, failed, passed, warned


def check_url(probe: Probe) -> Outcome:
    try:
        url = settings().ha_url
    except SettingError as err:
        return failed(str(err), "set it to true or false, as docs/configuration.md says, or remove it")
    if not url:
        return failed("HA_URL is not set", FIX_URL)
    try:
        probe.client = client = default_client()
    except ValueError as err:
        problem = str(err)  # never quotes HA_URL, which may hold a password
        if problem.startswith("HA_URL"):
            return failed(problem, FIX_URL)
        return failed(problem, "fix or remove the setting named: the bridge builds its TLS settings from it")
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{hostport(client.host, client.port)}{client.base_path}"
    if parts.username or parts.password:
        return warned(f"{shown} carries a user name or password, which the bridge never sends",
                      "remove them from HA_URL: the bridge authenticates with the token only")
    verify = "on" if settings().verify_tls else "OFF (HA_VERIFY_TLS=false)"
    return passed(f"{shown}" + (f", certificate checks {verify}" if client.tls is not None else ", plain HTTP"))


def check_dns(probe: Probe) -> Outcome:
    host, port = probe.client.host, probe.client.port
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        probe.addresses = [(info[0], info[4]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
        return passed(f"{host} is an IP address: no lookup needed" + _private_note(host))
    timeout = probe.timeout()
    try:
        infos = resolve(host, port, time.monotonic() + timeout)
    except socket.gaierror as err:
        return failed(f"{host} does not resolve ({err.strerror})",
                      "check the host name in HA_URL: it must be in public DNS, as AWS resolves it, not your router")
    except TimeoutError:
        return failed(f"no DNS answer for {host} within {timeout:.1f} s", "check the DNS of your domain")
    probe.addresses = list(dict.fromkeys((info[0], info[4]) for info in infos))
    shown = list(dict.fromkeys(sockaddr[0] for _, sockaddr in probe.addresses))
    more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
    return passed(f"{host} resolves to {', '.join(shown[:3])}{more}" + _private_note(*shown))


def check_tcp(probe: Probe) -> Outcome:
    errors = []
    for family, sockaddr in probe.addresses:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(probe.timeout())
                sock.connect(sockaddr)
        except OSError as err:
            errors.append((sockaddr, err))
            continue
        probe.address = (family, sockaddr)
        return passed(f"connected to {hostport(sockaddr[0], sockaddr[1])}")
    sockaddr, err = errors[0] if errors else ((probe.client.host, probe.client.port), OSError("no address"))
    where = hostport(sockaddr[0], sockaddr[1])
    if any(isinstance(e, ConnectionRefusedError) for _, e in errors):
        return failed(f"connection refused by {where}: nothing listens there (is Home Assistant running?)",
                      "start Home Assistant, and check the port in HA_URL and your router's port forwarding")
    if isinstance(err, TimeoutError):
        return failed(f"no answer from {where} in time: the connection attempt is dropped on the way",
                      FIX_UNREACHABLE)
    return failed(f"cannot connect to {where} ({err.strerror or type(err).__name__})", FIX_UNREACHABLE)


def check_tls(probe: Probe) -> Outcome:
    client, host = probe.client, probe.client.host
    if client.tls is None:
        if all(is_private(sockaddr[0]) for _, sockaddr in probe.addresses):
            return passed("not used: HA_URL is http:// to a private address")
        return warned("not used: HA_URL is http://, so the token crosses the internet unencrypted",
                      "serve Home Assistant over https:// (e.g. a reverse proxy with Let's Encrypt) and use that URL")
    started = time.perf_counter()
    try:
        with _tls_connection(probe, client.tls) as tls:
            handshake_ms = round((time.perf_counter() - started) * 1000, 1)
            cert, version = certificate.peer_certificate(tls), tls.version()
            refusal = _refusal_after_handshake(tls, host)
    except ssl.SSLCertVerificationError as err:
        about = ""
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        try:
            with _tls_connection(probe, unverified) as tls:
                cert = certificate.peer_certificate(tls)
            about = f"; the certificate is {certificate.summary(cert)}" if cert else ""
        except OSError:
            pass
        return failed(f"the certificate is not trusted ({err.verify_message}){about}",
                      TLS_FIXES.get(err.verify_code, FIX_TLS))
    except ssl.SSLError as err:
        reason = err.reason or str(err)
        return failed(f"the TLS handshake failed ({reason})", FIX_CLIENT_CERT if "CERTIFICATE" in reason else (
            "the port in HA_URL does not speak TLS as expected: use http:// if it serves plain HTTP, else check the"
            " port and the proxy's TLS settings (a server that wants a client certificate: HA_CLIENT_CERT)"))
    except OSError as err:
        what = "no TLS answer in time" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__)
        return failed(f"the TLS handshake failed ({what})", FIX_PROXY)
    if refusal:
        return failed(f"the server hung up right after the handshake: {refusal}",
                      FIX_CLIENT_CERT if "CERTIFICATE" in refusal.upper() or "reset" in refusal else FIX_TLS)
    if cert is None:
        return passed(f"{version}, handshake {handshake_ms} ms; certificate details unavailable")
    detail = f"{version}, handshake {handshake_ms} ms; certificate {certificate.summary(cert)}"
    problems = certificate.problems(cert, host)
    if not settings().verify_tls:
        found = f": {', '.join(problems)}" if problems else ""
        return warned(f"{detail}; not checked (HA_VERIFY_TLS=false){found}",
                      "use a certificate the bridge can check (or HA_CA_BUNDLE for your own CA) and remove"
                      " HA_VERIFY_TLS=false")
    if problems:
        return warned(f"{detail}; {', '.join(problems)}", "renew the certificate before it expires")
    return passed(detail)


def _tls_connection(probe: Probe, context: ssl.SSLContext):
    family, sockaddr = probe.address
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(probe.timeout())
        sock.connect(sockaddr)
        return context.wrap_socket(sock, server_hostname=probe.client.host)
    except BaseException:
        sock.close()
        raise


SILENT_CLOSE = "it closed the TLS connection without an alert (a client certificate it wants?)"


def _refusal_after_handshake(tls: ssl.SSLSocket, host: str) -> str | None:
    """Why the server hangs up once it has read the client's first bytes, if it does.

    TLS 1.3 checks the client certificate after the handshake: a server that wants one (or another one) says so
    only then, with an alert, or with a reset that may overtake the alert. `HEAD /` needs no token, so it never
    counts as a failed login in Home Assistant's ban list.
    """
    hung_up = None
    try:
        tls.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    except ssl.SSLEOFError:  # the alert can be lost in the race with the close
        return SILENT_CLOSE
    except ssl.SSLError as err:
        return err.reason or str(err)
    except (ConnectionResetError, BrokenPipeError) as err:
        hung_up = f"it reset the connection ({type(err).__name__})"
    except OSError:
        return None
    try:
        tls.recv(1)
    except ssl.SSLEOFError:
        return SILENT_CLOSE
    except ssl.SSLError as err:
        return err.reason or str(err)
    except ConnectionResetError as err:
        return f"it reset the connection ({type(err).__name__})"
    except OSError:  # a timeout is for the HTTP checks to report
        return hung_up
    return hung_up


def is_private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local


def _private_note(*addresses: str) -> str:
    if addresses and all(is_private(address) for address in addresses):
        return " (a private address: reachable from your network only, not from AWS Lambda outside a VPC)"
    return ""
