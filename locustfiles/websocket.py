"""Locust user for the websocket strategy: `locust -f locustfiles/websocket.py --host http://127.0.0.1:3000/dev`."""

from locustfiles.common import ReportUser


class WebsocketUser(ReportUser):
    strategy = "websocket"
