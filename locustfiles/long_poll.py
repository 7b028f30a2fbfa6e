"""Locust user for the long_poll strategy: `locust -f locustfiles/long_poll.py --host http://127.0.0.1:3000/dev`."""

from locustfiles.common import ReportUser


class LongPollUser(ReportUser):
    strategy = "long_poll"
