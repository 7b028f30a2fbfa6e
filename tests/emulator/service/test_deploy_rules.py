"""What AWS refuses at deploy is refused at start: one line naming the key and the rule."""

import pytest

from emulator.service import ServiceError, deploy_rules, load_service
from tests.support import write_service

HANDLER = "def handler(event, context):\n    return {'statusCode': 200}\n"


@pytest.mark.parametrize(
    ("name", "ok"),
    [("svc-dev-f_1", True), ("x" * 64, True), ("x" * 65, False), ("a.b", False), ("", False)],
)
def test_function_names(name, ok):
    assert (deploy_rules.function_name_rule(name) is None) is ok


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"TABLE": "t", "T2_X": "y"}, None),
        ({"A": "x"}, "not a valid variable name"),
        ({"9LIVES": "x"}, "not a valid variable name"),
        ({"MY-VAR": "x"}, "not a valid variable name"),
        ({"AWS_REGION": "eu-west-1"}, "AWS_REGION is reserved"),
        ({"TZ": "Europe/Paris"}, None),  # listed as reserved, accepted by Lambda
        ({"BIG": "x" * 4094}, "4097 bytes"),
    ],
)
def test_environment_variables(environment, message):
    broken = deploy_rules.environment_rule(environment)
    if message is None:
        assert broken is None
    else:
        assert broken is not None
        assert message in broken


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("reports-dev", True),
        ("my.bucket.1", True),
        ("ab", False),
        ("Reports", False),
        ("-x-", False),
        ("a..b", False),
        ("192.168.1.1", False),
        ("x" * 64, False),
    ],
)
def test_bucket_names(name, ok):
    assert (deploy_rules.bucket_name_rule(name) is None) is ok


def _table(**properties):
    base = {
        "TableName": "jobs",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    }
    return {**base, **properties}


def test_tables():
    assert deploy_rules.table_rule(_table()) is None
    assert "table name" in str(deploy_rules.table_rule(_table(TableName="ab")))
    undefined = _table(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    assert "pk are not in AttributeDefinitions" in str(deploy_rules.table_rule(undefined))
    unused = _table(
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "other", "AttributeType": "S"},
        ]
    )
    assert "defines other, which no key schema uses" in str(deploy_rules.table_rule(unused))
    indexed = _table(
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "owner", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": "byOwner", "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}]}
        ],
    )
    assert deploy_rules.table_rule(indexed) is None


@pytest.mark.parametrize(
    ("functions", "extra", "message"),
    [
        (
            "f:\n  handler: app.handler\n  environment:\n    AWS_REGION: x",
            "",
            r"functions\.f\.environment: AWS_REGION is reserved",
        ),
        ("f:\n  handler: app.handler\n  name: has.dot", "", r"functions\.f\.name: function name"),
        (
            "f:\n  handler: app.handler",
            "resources:\n  Resources:\n    B:\n      Type: AWS::S3::Bucket\n"
            "      Properties:\n        BucketName: Upper\n",
            r"resources\.Resources\.B\.Properties\.BucketName: bucket name 'Upper'",
        ),
        (
            "f:\n  handler: app.handler",
            "resources:\n  Resources:\n    T:\n      Type: AWS::DynamoDB::Table\n"
            "      Properties:\n        TableName: tbl\n        KeySchema:\n"
            "          - {AttributeName: pk, KeyType: HASH}\n",
            r"resources\.Resources\.T\.Properties: key attribute\(s\) pk",
        ),
    ],
)
def test_refusals_name_the_key_path(tmp_path, functions, extra, message):
    path = write_service(tmp_path, HANDLER, functions, extra=extra)
    with pytest.raises(ServiceError, match=message):
        load_service(path)


def test_a_provider_other_than_aws_is_refused(tmp_path):
    path = write_service(tmp_path, HANDLER, "f:\n  handler: app.handler")
    path.write_text(path.read_text().replace("name: aws", "name: google"))
    with pytest.raises(ServiceError, match=r"provider\.name must be aws"):
        load_service(path)
