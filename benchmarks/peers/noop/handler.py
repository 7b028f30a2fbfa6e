"""No-op Lambda handlers: answer at once (the benchmark measures the server around them)."""


def ok(event, context):
    """Any HTTP or WebSocket event: 200 with a two-byte body."""
    return {"statusCode": 200, "body": "ok"}


def echo(event, context):
    """A WebSocket message: ``echo `` and its body back to the client as the route response (the
    prefix shows the reply came from the handler, not from the server)."""
    return {"statusCode": 200, "body": "echo " + (event.get("body") or "")}
