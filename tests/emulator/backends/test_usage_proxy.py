"""The usage proxy with real boto3 calls against the session's moto server, and in a full stack."""

import asyncio
import gzip
import threading
import uuid
from collections.abc import Callable, Iterator

import h11
import httpx
import pytest
from aiohttp import web
from botocore.exceptions import ClientError

from emulator.backends.moto_server import free_port
from emulator.backends.usage_proxy import UsageProxy
from emulator.metrics import Metrics
from emulator.stack import StackThread
from tests.support import aws_client, stack_config


@pytest.fixture
def call() -> Iterator[Callable]:
    """Runs coroutines on an event loop of its own thread, so boto3 can block in the test."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield lambda coroutine: asyncio.run_coroutine_threadsafe(coroutine, loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


@pytest.fixture
def proxy(call, moto_server) -> Iterator[UsageProxy]:
    proxy = UsageProxy(moto_server.endpoint_url, Metrics())
    call(proxy.start())
    yield proxy
    call(proxy.stop())


def backend_usage(proxy: UsageProxy) -> dict:
    return proxy.metrics.snapshot()["backend"]


def test_s3_requests_are_counted_by_tier_and_a_presigned_url_downloads_through_it(
    proxy, moto_server
):
    bucket = f"usage-{uuid.uuid4().hex[:8]}"
    moto_server.client("s3").create_bucket(Bucket=bucket)  # directly: not counted
    s3 = aws_client("s3", proxy.url, s3={"addressing_style": "path"})
    body = b"id,amount\n" + b"1,2.50\n" * 20_000  # several chunks

    s3.put_object(Bucket=bucket, Key="reports/a b.csv", Body=body, ContentType="text/csv")
    assert s3.get_object(Bucket=bucket, Key="reports/a b.csv")["Body"].read() == body
    head = s3.head_object(Bucket=bucket, Key="reports/a b.csv")
    assert (head["ContentLength"], head["ContentType"]) == (len(body), "text/csv")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="reports/")
    assert [o["Key"] for o in listing["Contents"]] == ["reports/a b.csv"]
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "reports/a b.csv"}, ExpiresIn=60
    )
    assert url.startswith(f"{proxy.url}/{bucket}/reports/a%20b.csv?")
    download = httpx.get(url)
    assert (download.status_code, download.content) == (200, body)
    s3.delete_object(Bucket=bucket, Key="reports/a b.csv")

    assert backend_usage(proxy)["s3"] == {
        "operations": {
            "DeleteObject": 1,
            "GetObject": 2,
            "HeadObject": 1,
            "ListObjectsV2": 1,
            "PutObject": 1,
        },
        "tier1_requests": 2,
        "tier2_requests": 3,
        "free_requests": 1,
    }
    assert backend_usage(proxy)["dynamodb"]["operations"] == {}


def test_dynamodb_calls_are_counted_in_request_units(proxy, moto_server):
    table = f"usage-{uuid.uuid4().hex[:8]}"
    moto_server.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb = aws_client("dynamodb", proxy.url)
    key = {"id": {"S": "job-1"}}
    item = {**key, "blob": {"S": "x" * 1500}}  # 2 + 4 + 2 + 1500 bytes: 2 WRU, 1 RRU

    dynamodb.put_item(TableName=table, Item=item)  # 2 WRU
    got = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)  # 1 RRU
    assert got["Item"] == item
    dynamodb.get_item(TableName=table, Key={"id": {"S": "nope"}})  # 0.5 RRU, found or not
    dynamodb.update_item(  # the item returned, 1500 B and more: 2 WRU
        TableName=table,
        Key=key,
        UpdateExpression="SET progress = :p",
        ExpressionAttributeValues={":p": {"N": "50"}},
        ReturnValues="ALL_NEW",
    )
    found = dynamodb.query(  # eventually consistent, one 1.5 KB item: 0.5 RRU
        TableName=table,
        KeyConditionExpression="id = :id",
        ExpressionAttributeValues={":id": key["id"]},
    )
    assert found["Count"] == 1
    dynamodb.delete_item(TableName=table, Key=key)  # the key only: 1 WRU

    assert backend_usage(proxy)["dynamodb"] == {
        "operations": {"DeleteItem": 1, "GetItem": 2, "PutItem": 1, "Query": 1, "UpdateItem": 1},
        "read_request_units": 2.0,
        "write_request_units": 5.0,
    }
    assert backend_usage(proxy)["s3"]["operations"] == {}
    assert backend_usage(proxy)["errors"] == {}


class Recorder:
    """A backend that records what reaches it and answers with a gzip body and odd headers."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.method, request.raw_path, dict(request.headers), body))
        headers = {"Content-Encoding": "gzip", "X-Amz-Request-Id": "r1", "Connection": "close"}
        return web.Response(body=gzip.compress(b"hello"), status=207, headers=headers)

    async def start(self, port: int) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, auto_decompress=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def test_requests_and_responses_pass_verbatim_host_included(call):
    port = free_port()
    recorder = Recorder()
    call(recorder.start(port))
    proxy = UsageProxy(f"http://127.0.0.1:{port}", Metrics())
    call(proxy.start())
    try:
        raw_path = "/bucket/a%20b+%C3%BC.csv?tagging&X-Amz-Credential=k%2Fx"
        with httpx.stream(
            "PUT",
            proxy.url + raw_path,
            content=gzip.compress(b"as uploaded", mtime=0),
            headers={"Content-Encoding": "gzip", "X-Amz-Meta-A": "1"},
        ) as response:
            streamed = b"".join(response.iter_raw())  # as sent, not decoded
        method, path, headers, body = recorder.requests[0]
        assert (method, path, body) == ("PUT", raw_path, gzip.compress(b"as uploaded", mtime=0))
        sent = {k.lower(): v for k, v in response.request.headers.items() if k != "connection"}
        assert {k.lower(): v for k, v in headers.items()} == sent
        assert headers["Host"] == f"127.0.0.1:{proxy.port}"  # what the client signed
        assert (response.status_code, streamed) == (207, gzip.compress(b"hello"))
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["x-amz-request-id"] == "r1"
        assert response.headers.get("connection") != "close"  # hop-by-hop: not passed on
        assert backend_usage(proxy)["s3"]["operations"] == {"PutObjectTagging": 1}
    finally:
        call(proxy.stop())
        call(recorder.stop())


def test_a_backend_that_is_down_gets_502_and_the_proxy_keeps_serving(call, caplog):
    port = free_port()
    proxy = UsageProxy(f"http://127.0.0.1:{port}", Metrics())
    call(proxy.start())
    recorder = Recorder()
    try:
        dynamodb = aws_client("dynamodb", proxy.url)
        with pytest.raises(ClientError) as raised:
            dynamodb.get_item(TableName="t", Key={"id": {"S": "a"}})
        error = raised.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 502
        assert error["Error"]["Code"] == "ServiceUnavailable"
        assert f"127.0.0.1:{port}" in error["Error"]["Message"]
        for _ in range(4):  # more failures of the same outage: counted, not logged
            assert httpx.get(f"{proxy.url}/bucket/key").status_code == 502
        unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(unreachable) == 1
        assert f"backend http://127.0.0.1:{port} unreachable: POST / failed" in (
            unreachable[0].getMessage()
        )

        call(recorder.start(port))  # the backend comes back: the proxy serves it
        assert httpx.get(f"{proxy.url}/bucket/key").status_code == 207
        assert httpx.get(f"{proxy.url}/bucket/key").status_code == 207
        back = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
        assert back == [
            f"backend http://127.0.0.1:{port} answers again; 5 request(s) failed while it was "
            "unreachable"
        ]
        usage = backend_usage(proxy)
        assert usage["errors"] == {"502": 5}
        assert usage["dynamodb"]["operations"] == {}
        assert usage["s3"]["operations"] == {"GetObject": 2}
    finally:
        call(proxy.stop())
        if recorder.runner is not None:
            call(recorder.stop())


def test_a_stack_counts_the_report_lambdas_put_and_the_download_of_its_url(moto_server):
    with StackThread(stack_config(moto_server.endpoint_url)) as stack:
        assert stack.describe()["backend"]["endpoint"] == moto_server.endpoint_url
        response = httpx.post(
            f"{stack.rest_url}/reports", json={"delay": 100, "amountOfRows": 5}, timeout=30
        )
        assert response.status_code == 200
        url = response.json()["url"]
        assert url.startswith(stack.describe()["backend_proxy"])
        s3 = stack.metrics.snapshot()["backend"]["s3"]
        assert s3 == {
            "operations": {"PutObject": 1},
            "tier1_requests": 1,
            "tier2_requests": 0,
            "free_requests": 0,
        }

        assert len(httpx.get(url).text.splitlines()) == 6  # header and 5 rows

        s3 = stack.metrics.snapshot()["backend"]["s3"]
        assert s3["operations"] == {"GetObject": 1, "PutObject": 1}
        assert (s3["tier1_requests"], s3["tier2_requests"]) == (1, 1)


class KeepAliveBackend:
    """A raw HTTP/1.1 backend (asyncio + h11) that counts the connections it accepts and the
    requests it answers; with ``drop_after_each`` it closes a connection after each response
    without saying so, as a backend whose keep-alive timer fired does."""

    def __init__(self, drop_after_each: bool = False) -> None:
        self.drop_after_each = drop_after_each
        self.connections = 0
        self.bodies: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        http = h11.Connection(h11.SERVER)
        try:
            while True:
                event = http.next_event()
                if event is h11.NEED_DATA:
                    http.receive_data(await reader.read(65536))
                    continue
                if isinstance(event, h11.Data):
                    self.bodies[-1] += event.data
                elif isinstance(event, h11.Request):
                    self.bodies.append(b"")
                elif isinstance(event, h11.EndOfMessage):
                    body = b"answer %d" % len(self.bodies)
                    headers = [("Content-Length", str(len(body)))]
                    writer.write(http.send(h11.Response(status_code=200, headers=headers)))
                    writer.write(http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage()))
                    await writer.drain()
                    if self.drop_after_each:
                        return
                    http.start_next_cycle()
                else:
                    return
        finally:
            writer.close()

    async def start(self, port: int) -> None:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


@pytest.mark.parametrize("drop_after_each", [False, True])
def test_backend_connections_are_kept_alive_and_a_dropped_one_is_retried(call, drop_after_each):
    port = free_port()
    backend = KeepAliveBackend(drop_after_each)
    call(backend.start(port))
    proxy = UsageProxy(f"http://127.0.0.1:{port}", Metrics())
    call(proxy.start())
    try:
        with httpx.Client() as client:
            for i in range(1, 6):
                response = client.put(f"{proxy.url}/bucket/k{i}", content=b"x" * i)
                assert (response.status_code, response.text) == (200, f"answer {i}")
            # A body of unknown length streams through (chunked), not buffered.
            streamed = client.put(f"{proxy.url}/bucket/big", content=iter([b"a" * 70000, b"b"]))
            assert streamed.status_code == 200
        assert backend.bodies == [b"x" * i for i in range(1, 6)] + [b"a" * 70000 + b"b"]
        # Kept alive: one connection for all; dropped each time: one per request, none lost.
        assert backend.connections == (6 if drop_after_each else 1)
        assert backend_usage(proxy)["s3"]["operations"] == {"PutObject": 6}
        assert backend_usage(proxy)["errors"] == {}
    finally:
        call(proxy.stop())
        call(backend.stop())
