import socket

import pytest

from emulator.backends.bootstrap import bootstrap
from emulator.backends.endpoint import (
    Backend,
    BackendError,
    localstack_endpoint,
    validate_endpoint_url,
)
from emulator.backends.moto_server import EmbeddedMoto, free_port
from emulator.service import default_service_path, load_service
from emulator.stack import StackConfig, make_backend
from tests.support import aws_client


def test_embedded_moto_serves_s3_and_dynamodb_on_loopback_and_stops():
    server = EmbeddedMoto(port=free_port()).start()
    try:
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        server.check()
        s3 = aws_client("s3", server.endpoint_url)
        s3.create_bucket(Bucket="probe")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["probe"]
    finally:
        server.close()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", server.port)) != 0, "moto server still listening"


def test_embedded_moto_on_a_busy_port_says_what_to_do():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(BackendError, match=f"port {port} .* already in use.*--backend-port"):
            EmbeddedMoto(port=port).start()


def test_bootstrap_creates_the_services_resources_idempotently(moto_server):
    service = load_service(default_service_path(), stage="bootstraptest")
    bootstrap(service, moto_server)
    bootstrap(service, moto_server)  # a second run changes nothing and does not fail
    s3 = moto_server.client("s3")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "timeoutlab-reports-bootstraptest" in names
    dynamodb = moto_server.client("dynamodb")
    table = dynamodb.describe_table(TableName="timeoutlab-connections-bootstraptest")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    ttl = dynamodb.describe_time_to_live(TableName="timeoutlab-connections-bootstraptest")
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_a_backend_that_is_down_is_named_in_the_error():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendError, match=f"at {url} does not serve s3"):
        Backend("url", url).check()
    with pytest.raises(BackendError, match="does not serve s3"):
        make_backend(StackConfig(backend=url), "us-east-1")


@pytest.mark.parametrize("url", ["localhost:4566", "ftp://x", "http://", "4566"])
def test_backend_urls_must_be_http_endpoints(url):
    with pytest.raises(BackendError, match="must look like"):
        validate_endpoint_url(url)


def test_localstack_is_located_as_localstack_client_does(monkeypatch, moto_server):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("USE_SSL", raising=False)
    monkeypatch.delenv("LOCALSTACK_HOST", raising=False)
    assert localstack_endpoint() == "http://localhost:4566"
    monkeypatch.setenv("LOCALSTACK_HOST", f"127.0.0.1:{moto_server.port}")
    backend = make_backend(StackConfig(backend="localstack"), "us-east-1")
    assert (backend.kind, backend.endpoint_url) == ("localstack", moto_server.endpoint_url)
