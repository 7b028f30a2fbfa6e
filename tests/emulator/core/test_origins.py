"""The Origin and Host rules (emulator.core.origins), with no server."""

import pytest

from emulator.core.origins import (
    HostPolicy,
    InvalidOrigin,
    OriginPolicy,
    host_of,
    is_loopback,
    normalize_origin,
    parse_allowed_host,
    parse_allowed_origin,
)

POLICY = OriginPolicy.of(
    host_names=("0.0.0.0", "emulator", None),
    ports=(3000, 3001, None),
    allowed_origins=("https://ui.example", "http://Dev.Example:8080"),
)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # no Origin: not a browser's cross-site request
        ("http://127.0.0.1:3000", True),
        ("http://localhost:3001", True),
        ("https://LOCALHOST:3000", True),
        ("http://[::1]:3000", True),
        ("http://emulator:3001", True),  # --callback-host / --allowed-host
        ("http://0.0.0.0:3000", True),  # --host
        ("https://ui.example", True),  # --allowed-origin, default port 443
        ("https://ui.example:443", True),
        ("http://dev.example:8080", True),
        ("http://localhost:3002", False),  # not one of its ports
        ("http://localhost", False),  # port 80
        ("https://evil.example", False),
        ("http://127.0.0.1.evil.example:3000", False),
        ("http://ui.example", False),  # http, not https
        ("null", False),  # sandboxed frame, file:// page
        ("file://", False),
        ("chrome-extension://abc", False),
        ("http://localhost:3000/path", False),
        ("http://localhost:99999", False),
        ("", False),
    ],
)
def test_origins(origin, allowed):
    assert POLICY.allows(origin) is allowed


def test_normalize_origin_fills_in_default_ports_and_lowercases():
    assert normalize_origin("HTTPS://Example.COM") == ("https", "example.com", 443)
    assert normalize_origin("http://[::1]:8000") == ("http", "[::1]", 8000)
    assert normalize_origin("http://u:p@example.com") is None


@pytest.mark.parametrize("text", ["example.com", "ftp://x", "null", "http://x/y", "http://x:bad"])
def test_a_malformed_allowed_origin_is_refused(text):
    with pytest.raises(InvalidOrigin, match="--allowed-origin"):
        parse_allowed_origin(text)


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (None, True),
        ("127.0.0.1:3000", True),
        ("192.168.1.20", True),
        ("[::1]:3000", True),
        ("[fe80::1]", True),
        ("localhost:3000", True),
        ("LocalHost.", True),
        ("emulator:3000", True),
        ("lab.example", True),
        ("evil.example", False),
        ("evil.example:3000", False),
        ("127.0.0.1.nip.io", False),  # a name that resolves to loopback is still a name
        ("emulator.evil.example", False),
        ("", False),
    ],
)
def test_hosts(header, allowed):
    assert HostPolicy.of("emulator", None, "Lab.Example").allows(header) is allowed


def test_host_of_drops_the_port():
    assert host_of("Example.com:3000") == "example.com"
    assert host_of("[::1]:3000") == "[::1]"
    assert host_of("emulator") == "emulator"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("emulator", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("text", ["emulator", "lab.example.com", "my-host", "10.0.0.2", "::1"])
def test_allowed_hosts(text):
    assert parse_allowed_host(text) == text


@pytest.mark.parametrize("text", ["emulator:3000", "http://emulator", "-bad", "a b", ""])
def test_a_malformed_allowed_host_is_refused(text):
    with pytest.raises(InvalidOrigin, match="--allowed-host"):
        parse_allowed_host(text)
