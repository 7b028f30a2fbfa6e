"""No-op Lambda handlers: answer at once (the benchmark measures the server around them)."""


def ok(event, context):
    """Any HTTP or WebSocket event: 200 with a two-byte body."""
    return {"statusCode": 200, "body": "ok"}


def echo(event, context):
    """A WebSocket message: its body back to the client as the route response."""
    return {"statusCode": 200, "body": event.get("body") or ""}
