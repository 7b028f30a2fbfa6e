"""The embedded moto server as timeoutlab serves it: keep-alive, moto's answers unchanged."""

from __future__ import annotations

import socket
import uuid

from moto.server import DomainDispatcherApplication, create_backend_app

from emulator.backends.moto_serve import CachedDispatcher
from tests.support import aws_client

REQUEST = b"GET /moto-api/data.json HTTP/1.1\r\nHost: %s\r\n\r\n"


def _response(sock: socket.socket, buffer: bytearray) -> bytes:
    """One response with a Content-Length body, read from ``sock`` (rest left in buffer)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-body"
        rest += chunk
    buffer[:] = rest[length:]
    return head


def test_one_connection_serves_request_after_request(moto_server):
    host = moto_server.endpoint_url.removeprefix("http://").encode()
    with socket.create_connection((moto_server.host, moto_server.port), timeout=30) as sock:
        buffer = bytearray()
        for _ in range(3):
            sock.sendall(REQUEST % host)
            head = _response(sock, buffer)
            assert head.startswith(b"HTTP/1.1 200")
            assert b"connection: close" not in head.lower()


def test_s3_metadata_with_underscores_and_dynamodb_items_come_back(moto_server):
    s3 = aws_client("s3", moto_server.endpoint_url)
    bucket = f"serve-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hi", Metadata={"a_b": "1", "c-d": "2"})
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {"a_b": "1", "c-d": "2"}
    dynamodb = aws_client("dynamodb", moto_server.endpoint_url)
    table = f"serve-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item={"id": {"S": "x"}, "n": {"N": "7"}})
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": "x"}})["Item"]
    assert item == {"id": {"S": "x"}, "n": {"N": "7"}}


def test_the_cached_dispatcher_picks_the_backends_moto_picks():
    ours, motos = CachedDispatcher(), DomainDispatcherApplication(create_backend_app)
    hosts = ["s3.us-east-1.amazonaws.com", "dynamodb.eu-west-1.amazonaws.com", "moto_api"]
    for host in [*hosts, None, "nothing.example", *hosts]:
        assert ours.get_backend_for_host(host) == motos.get_backend_for_host(host)
