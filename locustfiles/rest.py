"""Locust user for the rest strategy: `locust -f locustfiles/rest.py --host http://127.0.0.1:3000/dev`."""

from locustfiles.common import ReportUser


class RestUser(ReportUser):
    strategy = "rest"
