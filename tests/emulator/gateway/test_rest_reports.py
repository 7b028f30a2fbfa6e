"""The article's REST experiment through real sockets, real handlers and a real moto server.

What needs the real report handlers and a real backend lives here: the CSV the presigned URL
downloads, the object the Lambda writes after the gateway gave up on it, AWS's error answers. Real
time plays no part in what is asserted beyond "never early" (a 504 never comes before 29 s, a
report never before its delay): how late a busy machine makes them is no fault of the gateway's.
The exact deadlines are asserted on a virtual clock in test_rest_deadlines.py.
"""

import csv
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

TIMEOUT_BODY = {"message": "Endpoint request timed out"}


def post_report(client, stack, delay_ms, rows=10):
    started = time.monotonic()
    response = client.post(
        f"{stack.rest_url}/reports", json={"delay": delay_ms, "amountOfRows": rows}
    )
    return response, stack.clock.to_emulated(time.monotonic() - started)


def bucket_objects(stack) -> int:
    """Every object in the reports bucket, which the session's moto server shares with every
    earlier test's stack (a listing stops at 1000 keys: all its pages are counted)."""
    pages = stack.backend.client("s3").get_paginator("list_objects_v2")
    return sum(page.get("KeyCount", 0) for page in pages.paginate(Bucket=stack.service.buckets[0]))


def test_a_5_second_report_arrives_and_its_csv_downloads_with_every_row(report_stack, client):
    response, elapsed = post_report(client, report_stack, 5000, rows=1234)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-requestid"]
    assert elapsed >= 5.0  # never early; a 200 says it beat the 29 s
    url = response.json()["url"]
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=3600" in url
    download = httpx.get(url)  # a plain GET, as a browser would, no AWS credentials
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["id", "customer", "amount", "created_at"]
    assert len(rows) - 1 == 1234


def test_a_40_second_report_gets_awss_504_at_29_seconds_while_the_lambda_runs_on(
    report_stack, client
):
    report_stack.wait_idle()
    report_stack.metrics.reset()
    objects_before = bucket_objects(report_stack)

    response, elapsed = post_report(client, report_stack, 40_000)

    assert response.status_code == 504
    assert response.json() == TIMEOUT_BODY
    assert response.headers["content-type"] == "application/json"
    assert elapsed >= 29.0, f"a 504 must never come early: after {elapsed:.2f} emulated s"
    gateway_view = report_stack.metrics.snapshot()["rest"]["routes"]["POST /reports"]
    assert gateway_view["integration_timeouts"] == 1
    assert gateway_view["latency_ms_avg"] >= 29_000

    # Like AWS, the Lambda was not stopped: it finishes at 40 s and writes its report anyway.
    # Only 11 emulated s (0.22 s real) separate the 504 from its end, which a loaded machine can
    # let pass before this reads the figures: either it still runs, counted as running after its
    # caller left, or it has ended (its run after the 504 is then checked below).
    fn = report_stack.metrics.snapshot()["lambda"]["functions"]
    (name,) = fn
    assert fn[name]["running_after_caller_gone"] == fn[name]["running"], fn[name]
    report_stack.wait_idle()
    fn = report_stack.metrics.snapshot()["lambda"]["functions"][name]
    assert fn["outcomes"] == {"success": 1}
    assert fn["billed_ms"] >= 40_000
    assert fn["wasted_ms"] == fn["billed_ms"]
    assert 0 < fn["after_caller_gone_ms"] < fn["billed_ms"]  # the run after the 504, wasted
    assert bucket_objects(report_stack) == objects_before + 1


def test_every_concurrent_40_second_report_times_out_at_29_seconds(report_stack):
    report_stack.wait_idle()
    report_stack.metrics.reset()

    def one(_):
        with httpx.Client(timeout=30) as c:
            return post_report(c, report_stack, 40_000)

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(one, range(12)))
    assert [r.status_code for r, _ in results] == [504] * 12
    assert min(elapsed for _, elapsed in results) >= 29.0, "a 504 must never come early"
    gateway = report_stack.metrics.snapshot()["rest"]["routes"]["POST /reports"]
    assert gateway["integration_timeouts"] == 12
    assert gateway["latency_ms_avg"] >= 29_000  # as the gateway measured it
    report_stack.wait_idle()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "request body must be a JSON report definition"),
        (b"", "request body must be a JSON report definition"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"amountOfRows": 10}', "'delay' is required"),
        (b'{"delay": 10}', "'amountOfRows' is required"),
        (b'{"delay": "5000", "amountOfRows": 10}', "'delay' must be an integer"),
        (b'{"delay": 1.5, "amountOfRows": 10}', "'delay' must be an integer"),
        (b'{"delay": true, "amountOfRows": 10}', "'delay' must be an integer"),
        (b'{"delay": -1, "amountOfRows": 10}', "'delay' must be between 0 and 900000"),
        (b'{"delay": 900001, "amountOfRows": 10}', "'delay' must be between 0 and 900000"),
        (b'{"delay": 0, "amountOfRows": 0}', "'amountOfRows' must be between 1 and 1000000"),
        (b'{"delay": 0, "amountOfRows": 1000001}', "'amountOfRows' must be between"),
        (b'{"delay": 0, "amountOfRows": 1, "format": "xls"}', "unknown field(s): format"),
    ],
)
def test_invalid_definitions_get_400_saying_what_is_wrong(report_stack, client, body, message):
    response = client.post(f"{report_stack.rest_url}/reports", content=body)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_unknown_routes_methods_and_stages_get_awss_403s(report_stack, client):
    for method, path in [("POST", "/dev/nope"), ("GET", "/dev/reports"), ("POST", "/dev")]:
        response = client.request(method, f"{report_stack.http_url}{path}")
        assert response.status_code == 403, path
        assert response.json() == {"message": "Missing Authentication Token"}
        assert response.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    response = client.post(f"{report_stack.http_url}/prod/reports", json={})
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_a_body_over_10_mb_gets_413_and_the_gateway_keeps_serving(report_stack, client):
    report_stack.wait_idle()
    report_stack.metrics.reset()
    oversize = b'{"delay": 0, "amountOfRows": 1, "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = client.post(f"{report_stack.rest_url}/reports", content=oversize)
    assert response.status_code == 413
    assert response.text == "HTTP content length exceeded 10485760 bytes."

    def chunks():
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    chunked = client.post(f"{report_stack.rest_url}/reports", content=chunks())
    assert chunked.status_code == 413  # no Content-Length: refused while reading
    fns = report_stack.metrics.snapshot()["lambda"]["functions"]
    assert fns == {}, "an oversize request must never reach the Lambda"

    response, _ = post_report(client, report_stack, 0)
    assert response.status_code == 200


def test_metrics_count_requests_per_route_and_status(report_stack, client):
    report_stack.wait_idle()
    client.post(f"{report_stack.http_url}/_emulator/reset")
    post_report(client, report_stack, 0)
    client.post(f"{report_stack.rest_url}/reports", content=b"{")
    client.get(f"{report_stack.rest_url}/elsewhere")
    metrics = client.get(f"{report_stack.http_url}/_emulator/metrics").json()
    route = metrics["rest"]["routes"]["POST /reports"]
    assert route["requests"] == 2
    assert route["status_counts"] == {"200": 1, "400": 1}
    assert metrics["rest"]["routes"]["(no route)"]["status_counts"] == {"403": 1}
    assert metrics["rest"]["requests"] == 3
    fn = next(iter(metrics["lambda"]["functions"].values()))
    assert fn["invocations"] == 2
    assert fn["billed_ms"] > 0
    assert fn["wasted_ms"] == 0
    assert metrics["clock"]["time_scale"] == report_stack.clock.scale
    json.dumps(metrics)  # plain JSON all the way down
