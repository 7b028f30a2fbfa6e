"""Locust user for the short_poll strategy: `locust -f locustfiles/short_poll.py --host http://127.0.0.1:3000/dev`."""

from locustfiles.common import ReportUser


class ShortPollUser(ReportUser):
    strategy = "short_poll"
