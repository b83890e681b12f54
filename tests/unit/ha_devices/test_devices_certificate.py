"""Reading a server certificate: names, wildcard and IP matching, expiry, and decoding an unverified one."""

import ssl

import pytest

from ha_devices import certificate
from test_ha_websocket import make_certificate

NOW = ssl.cert_time_to_seconds("Jan  1 00:00:00 2030 GMT")


def cert(*alt, common_name="ha.example.com", not_after="Mar  1 00:00:00 2030 GMT"):
    return {
        "subject": ((("commonName", common_name),),),
        "issuer": ((("countryName", "US"),), (("organizationName", "Let's Encrypt"),), (("commonName", "R11"),)),
        "notAfter": not_after,
        "subjectAltName": alt,
    }


@pytest.mark.parametrize(
    "host, alt, expected",
    [
        ("ha.example.com", (("DNS", "ha.example.com"),), True),
        ("HA.Example.com.", (("DNS", "ha.example.com"),), True),
        ("ha.example.com", (("DNS", "*.example.com"),), True),
        ("a.b.example.com", (("DNS", "*.example.com"),), False),
        ("example.com", (("DNS", "*.example.com"),), False),
        ("other.example.org", (("DNS", "ha.example.com"),), False),
        ("192.168.1.5", (("IP Address", "192.168.1.5"),), True),
        ("192.168.1.5", (("DNS", "192.168.1.5"),), False),
        ("::1", (("IP Address", "0:0:0:0:0:0:0:1\n"),), True),
    ],
)
def test_host_names_and_addresses_are_matched_like_a_tls_client_does(host, alt, expected):
    assert certificate.matches(cert(*alt), host) is expected


def test_without_subject_alt_names_the_common_name_counts():
    assert certificate.names(cert()) == ["ha.example.com"]
    assert certificate.matches(cert(), "ha.example.com")


def test_the_summary_names_the_certificate_its_issuer_and_days_left():
    line = certificate.summary(cert(("DNS", "ha.example.com"), ("DNS", "www.example.com")), now=NOW)
    assert line == "for ha.example.com (and 1 more name), issued by R11 / Let's Encrypt, valid until 2030-03-01" \
                   " (59 days left)"


def test_problems_name_expiry_and_a_wrong_host_worst_first():
    expired = cert(("DNS", "ha.example.com"), not_after="Dec  1 00:00:00 2029 GMT")
    assert certificate.problems(expired, "other.example.com", now=NOW) == [
        "it has expired", "it is not valid for other.example.com"]
    assert "expired on 2029-12-01" in certificate.summary(expired, now=NOW)
    soon = cert(("DNS", "ha.example.com"), not_after="Jan 10 00:00:00 2030 GMT")
    assert certificate.problems(soon, "ha.example.com", now=NOW) == ["it expires in less than 14 days"]
    assert certificate.problems(cert(("DNS", "ha.example.com")), "ha.example.com", now=NOW) == []


def test_an_unverified_certificate_is_decoded_from_its_raw_form(tmp_path):
    cert_path, _ = make_certificate(tmp_path, names=("ha.example.test", "10.0.0.2"))
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
    decoded = certificate.decode(der)
    if decoded is None:
        pytest.skip("this Python has no private certificate decoder")
    assert certificate.names(decoded) == ["ha.example.test", "10.0.0.2"]
    assert certificate.matches(decoded, "10.0.0.2")
    assert certificate.expires(decoded) is not None


def test_a_certificate_without_an_expiry_is_described_without_one():
    assert certificate.expires({}) is None
    assert certificate.summary({}) == "for no name, issued by an unnamed issuer"
