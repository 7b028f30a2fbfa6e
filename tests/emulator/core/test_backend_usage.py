import base64

import pytest

from emulator.core.backend_usage import (
    attribute_size,
    classify_s3,
    dynamodb_units,
    item_size,
    request_service,
    s3_operation,
)

PRESIGNED = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=abc"
SIGNED_S3 = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request"}


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "operation", "tier"),
    [
        ("PUT", "/bucket/reports/a.csv", "", {}, "PutObject", "tier1"),
        ("PUT", "/bucket/b.csv", "", {"X-Amz-Copy-Source": "/bucket/a.csv"}, "CopyObject", "tier1"),
        ("PUT", "/bucket", "", {}, "CreateBucket", "tier1"),
        ("GET", "/", "", {}, "ListBuckets", "tier1"),
        ("GET", "/bucket", "list-type=2&prefix=reports%2F", {}, "ListObjectsV2", "tier1"),
        ("GET", "/bucket/", "", {}, "ListObjects", "tier1"),
        ("GET", "/bucket", "versions", {}, "ListObjectVersions", "tier1"),
        ("GET", "/bucket/big.bin", "uploadId=u1", {}, "ListParts", "tier1"),
        ("POST", "/bucket/big.bin", "uploads", {}, "CreateMultipartUpload", "tier1"),
        ("GET", "/bucket/reports/a.csv", "", {}, "GetObject", "tier2"),
        ("GET", "/bucket/a.csv", PRESIGNED, {}, "GetObject", "tier2"),
        ("GET", "/bucket/a.csv", "tagging", {}, "GetObjectTagging", "tier2"),
        ("GET", "/bucket", "location", {}, "GetBucketLocation", "tier2"),
        ("HEAD", "/bucket/a.csv", "", {}, "HeadObject", "tier2"),
        ("HEAD", "/bucket", "", {}, "HeadBucket", "tier2"),
        ("POST", "/bucket/a.csv", "select&select-type=2", {}, "SelectObjectContent", "tier2"),
        ("DELETE", "/bucket/a.csv", "", {}, "DeleteObject", "free"),
        ("DELETE", "/bucket/big.bin", "uploadId=u1", {}, "AbortMultipartUpload", "free"),
        ("DELETE", "/bucket", "", {}, "DeleteBucket", "free"),
    ],
)
def test_s3_requests_get_their_operation_and_pricing_tier(
    method, path, query, headers, operation, tier
):
    assert s3_operation(method, path, query, headers) == operation
    assert classify_s3(method, path, query, headers) == tier


def test_requests_are_told_apart_by_target_and_signature():
    dynamodb = {"X-Amz-Target": "DynamoDB_20120810.PutItem"}
    assert request_service("", dynamodb) == "dynamodb"
    assert request_service("", {"x-amz-target": "AmazonSQS.SendMessage"}) == "other"
    assert request_service("", SIGNED_S3) == "s3"
    sts = {"Authorization": SIGNED_S3["Authorization"].replace("/s3/", "/sts/")}
    assert request_service("", sts) == "other"
    presigned = "X-Amz-Credential=test%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=60"
    assert request_service(presigned, {}) == "s3"
    assert request_service("", {}) == "s3"  # anonymous GETs are S3's


def test_item_sizes_follow_dynamodbs_rules():
    assert attribute_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert attribute_size({"N": "123456"}) == 4  # 6 significant digits -> 3 + 1
    assert attribute_size({"N": "-0.0012300"}) == 3  # leading and trailing zeroes trimmed
    assert attribute_size({"B": base64.b64encode(b"\x00" * 10).decode()}) == 10
    assert attribute_size({"BOOL": True}) == attribute_size({"NULL": True}) == 1
    assert attribute_size({"SS": ["ab", "cde"]}) == 5
    assert attribute_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (2 + 1) + (2 + 1)
    assert attribute_size({"M": {"k": {"S": "ab"}}}) == 3 + (1 + 2 + 1)
    assert item_size({"id": {"S": "abc"}, "n": {"N": "7"}}) == (2 + 3) + (1 + 2)


def _item(size: int) -> dict:
    """An item of exactly ``size`` bytes: one attribute "d" (1 byte) holding a string."""
    return {"d": {"S": "x" * (size - 1)}}


def test_writes_cost_a_unit_per_started_kilobyte():
    assert dynamodb_units("PutItem", {"Item": _item(100)}, {}) == (0.0, 1.0)
    assert dynamodb_units("PutItem", {"Item": _item(1024)}, {}) == (0.0, 1.0)
    assert dynamodb_units("PutItem", {"Item": _item(1025)}, {}) == (0.0, 2.0)
    key = {"Key": {"id": {"S": "a"}}}
    assert dynamodb_units("DeleteItem", key, {}) == (0.0, 1.0)
    # With ReturnValues the item returned is known, and the larger one counts.
    assert dynamodb_units("UpdateItem", key, {"Attributes": _item(3000)}) == (0.0, 3.0)
    failed = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}
    assert dynamodb_units("PutItem", {"Item": _item(10)}, failed) == (0.0, 1.0)
    missing = {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"}
    assert dynamodb_units("PutItem", {"Item": _item(10)}, missing) == (0.0, 0.0)


def test_reads_cost_a_unit_per_started_4_kilobytes_half_when_eventually_consistent():
    strong = {"Key": {}, "ConsistentRead": True}
    assert dynamodb_units("GetItem", strong, {"Item": _item(4096)}) == (1.0, 0.0)
    assert dynamodb_units("GetItem", strong, {"Item": _item(4097)}) == (2.0, 0.0)
    assert dynamodb_units("GetItem", {"Key": {}}, {"Item": _item(9000)}) == (1.5, 0.0)
    assert dynamodb_units("GetItem", strong, {}) == (1.0, 0.0)  # nothing found still costs
    assert dynamodb_units("GetItem", {"Key": {}}, {}) == (0.5, 0.0)
    # Query and Scan round the total, not each item.
    items = {"Items": [_item(1500)] * 3, "Count": 3}
    assert dynamodb_units("Query", {"ConsistentRead": True}, items) == (2.0, 0.0)
    assert dynamodb_units("Scan", {}, items) == (1.0, 0.0)
    assert dynamodb_units("Query", {}, {"Items": []}) == (0.5, 0.0)


def test_batches_and_transactions_cost_per_item_and_transactions_twice():
    request = {
        "RequestItems": {
            "t": {"Keys": [{"id": {"S": "a"}}, {"id": {"S": "b"}}, {"id": {"S": "c"}}]},
            "u": {"Keys": [{"id": {"S": "d"}}], "ConsistentRead": True},
        }
    }
    response = {
        "Responses": {"t": [_item(5000)], "u": [_item(10)]},
        "UnprocessedKeys": {"t": {"Keys": [{"id": {"S": "c"}}]}},
    }
    # t: 5000 B eventually consistent (1.0) + "b" not found (0.5); u: 1.0 strongly consistent.
    assert dynamodb_units("BatchGetItem", request, response) == (2.5, 0.0)

    writes = {
        "RequestItems": {
            "t": [
                {"PutRequest": {"Item": _item(2000)}},
                {"DeleteRequest": {"Key": {"id": {"S": "a"}}}},
            ]
        }
    }
    assert dynamodb_units("BatchWriteItem", writes, {"UnprocessedItems": {}}) == (0.0, 3.0)
    unprocessed = {"UnprocessedItems": {"t": writes["RequestItems"]["t"][1:]}}
    assert dynamodb_units("BatchWriteItem", writes, unprocessed) == (0.0, 2.0)

    gets = {"TransactItems": [{"Get": {"Key": {}}}, {"Get": {"Key": {}}}]}
    found = {"Responses": [{"Item": _item(5000)}, {}]}
    assert dynamodb_units("TransactGetItems", gets, found) == (6.0, 0.0)
    transact = {
        "TransactItems": [
            {"Put": {"Item": _item(1500), "TableName": "t"}},
            {"Update": {"Key": {"id": {"S": "a"}}, "TableName": "t"}},
        ]
    }
    assert dynamodb_units("TransactWriteItems", transact, {}) == (0.0, 6.0)


@pytest.mark.parametrize(
    "operation", ["CreateTable", "DescribeTable", "UpdateTimeToLive", "ListTables"]
)
def test_control_plane_calls_cost_no_request_units(operation):
    assert dynamodb_units(operation, {"TableName": "t"}, {"Table": {}}) == (0.0, 0.0)
