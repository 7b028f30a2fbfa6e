"""The start-up warning of a --host or --internal-host off loopback (emulator.core.exposure)."""

from emulator.core.exposure import advertised_host, exposure_warning, is_unspecified

ENDPOINTS = [("REST API", 3000), ("WebSocket API", 3001)]
INTERNAL = [("embedded moto server (S3, DynamoDB)", 4566), ("backend usage proxy", 40001)]


def warn(**overrides):
    settings = {
        "host": "127.0.0.1",
        "internal_host": "127.0.0.1",
        "endpoints": ENDPOINTS,
        "control_port": 3000,
        "control_token": False,
        "internal_services": INTERNAL,
    }
    return exposure_warning(**{**settings, **overrides})


def test_loopback_says_nothing():
    assert warn() is None
    assert warn(host="localhost", internal_host="::1") is None


def test_a_public_host_names_every_endpoint_and_an_open_control_plane():
    text = warn(host="0.0.0.0")
    assert text.startswith("timeoutlab: warning: --host 0.0.0.0 is not loopback")
    assert "REST API on 0.0.0.0:3000" in text
    assert "WebSocket API on 0.0.0.0:3001" in text
    assert "control plane /_emulator/ on 0.0.0.0:3000 (open:" in text
    assert "--control-token" in text
    assert "stay on 127.0.0.1" in text  # moto and the proxy do not follow --host


def test_a_token_is_named_as_protecting_the_control_plane():
    assert "(protected by --control-token)" in warn(host="0.0.0.0", control_token=True)


def test_a_public_internal_host_names_the_backend():
    text = warn(internal_host="0.0.0.0")
    assert "--internal-host 0.0.0.0 is not loopback" in text
    assert "embedded moto server (S3, DynamoDB) on 0.0.0.0:4566" in text
    assert "backend usage proxy on 0.0.0.0:40001" in text
    assert warn(internal_host="0.0.0.0", internal_services=[]) is None


def test_unverified_signatures_are_named_until_credentials_are_set():
    text = warn(host="0.0.0.0")
    assert "Invoke API and @connections accept any well-formed SigV4 signature" in text
    assert "--credentials KEY:SECRET" in text
    verified = warn(host="0.0.0.0", signatures_verified=True)
    assert "any well-formed" not in verified


def test_urls_name_host_unless_it_is_every_interface():
    assert advertised_host("127.0.0.1", "emulator", "10.0.0.5") == "127.0.0.1"
    assert advertised_host("192.168.1.9", None, "10.0.0.5") == "192.168.1.9"
    assert advertised_host("0.0.0.0", "emulator", "10.0.0.5") == "emulator"
    assert advertised_host("0.0.0.0", None, "10.0.0.5") == "10.0.0.5"
    assert advertised_host("::", None, None) == "127.0.0.1"
    assert is_unspecified("[::]")
    assert not is_unspecified("localhost")
