"""The quote: a fast endpoint. It imports no AWS SDK, so its cold start stays cheap."""

import json


def quote(event, context):
    return {"statusCode": 200, "body": json.dumps({"price": 42})}
