"""What a server's TLS certificate says: its names, issuer and expiry, and whether it fits a host name."""

import contextlib
import ipaddress
import os
import ssl
import tempfile
import time

EXPIRY_WARNING_DAYS = 14


def peer_certificate(tls_socket) -> dict | None:
    """The server's certificate in getpeercert()'s form, also when the handshake did not verify it."""
    cert = tls_socket.getpeercert()
    if cert:
        return cert
    der = tls_socket.getpeercert(binary_form=True)  # an unverified handshake gives only the raw certificate
    return decode(der) if der else None


def decode(der: bytes) -> dict | None:
    """Decode a DER certificate with CPython's own decoder; None where that (private) decoder is missing."""
    decoder = getattr(ssl._ssl, "_test_decode_cert", None)  # private, hence getattr: the stdlib has no public one
    if decoder is None:
        return None
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as pem:
            pem.write(ssl.DER_cert_to_PEM_cert(der))
        return decoder(path)
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        return None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def names(cert: dict) -> list[str]:
    """The host names and addresses the certificate is for: its subjectAltName, else its common name."""
    alt = [value.strip() for kind, value in cert.get("subjectAltName", ()) if kind in ("DNS", "IP Address")]
    return alt or [value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"]


def issuer(cert: dict) -> str:
    fields = {key: value for rdn in cert.get("issuer", ()) for key, value in rdn}
    parts = [fields.get("commonName"), fields.get("organizationName")]
    unique = [part for i, part in enumerate(parts) if part and part not in parts[:i]]
    return " / ".join(unique) or "an unnamed issuer"


def expires(cert: dict) -> float | None:
    """When the certificate expires (seconds since the epoch), or None when it does not say."""
    try:
        return float(ssl.cert_time_to_seconds(cert["notAfter"]))
    except (KeyError, ValueError, TypeError):
        return None


def matches(cert: dict, host: str) -> bool:
    """Whether the certificate is valid for `host`: an exact name, a one-label wildcard, or an IP address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        found = []
        for kind, value in cert.get("subjectAltName", ()):
            if kind == "IP Address":
                with contextlib.suppress(ValueError):
                    found.append(ipaddress.ip_address(value.strip()))
        return address in found
    host = host.lower().rstrip(".")
    for pattern in names(cert):
        pattern = pattern.lower().rstrip(".")
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def summary(cert: dict, now: float | None = None) -> str:
    """One line: who the certificate is for, who issued it, until when."""
    now = time.time() if now is None else now
    listed = names(cert)
    who = listed[0] if listed else "no name"
    if len(listed) > 1:
        who += f" (and {len(listed) - 1} more name{'s' if len(listed) > 2 else ''})"
    line = f"for {who}, issued by {issuer(cert)}"
    expiry = expires(cert)
    if expiry is not None:
        date = time.strftime("%Y-%m-%d", time.gmtime(expiry))
        days = int((expiry - now) // 86400)
        line += f", valid until {date} ({days} days left)" if expiry > now else f", expired on {date}"
    return line


def problems(cert: dict, host: str, now: float | None = None) -> list[str]:
    """What is wrong with the certificate for `host`, worst first; empty when nothing is."""
    now = time.time() if now is None else now
    found = []
    expiry = expires(cert)
    if expiry is not None and expiry <= now:
        found.append("it has expired")
    elif expiry is not None and expiry - now < EXPIRY_WARNING_DAYS * 86400:
        found.append(f"it expires in less than {EXPIRY_WARNING_DAYS} days")
    if not matches(cert, host):
        found.append(f"it is not valid for {host}")
    return found
