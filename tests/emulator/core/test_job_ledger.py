"""The ledger of WebSocket jobs accepted and answered."""

import json

from emulator.core.job_ledger import JobLedger


def sent(ledger: JobLedger, **message) -> None:
    ledger.message_sent(json.dumps(message))


def test_accepted_jobs_stay_unanswered_until_a_url_or_an_error_names_them():
    ledger = JobLedger()
    sent(ledger, jobId="a", status="accepted")
    sent(ledger, jobId="b", status="accepted")
    sent(ledger, jobId="c", status="accepted")
    assert ledger.snapshot() == {
        "accepted": 3,
        "answered_url": 0,
        "answered_error": 0,
        "unanswered": 3,
    }
    sent(ledger, jobId="a", url="http://x/a.csv")
    ledger.message_sent(json.dumps({"jobId": "b", "error": "failed"}).encode())  # @connections
    assert ledger.unanswered == {"c"}
    assert ledger.snapshot() == {
        "accepted": 3,
        "answered_url": 1,
        "answered_error": 1,
        "unanswered": 1,
    }


def test_other_messages_are_ignored():
    ledger = JobLedger()
    for text in ("plain", "[1, 2]", '{"jobId": 7}', '{"message": "Internal server error"}', "{"):
        ledger.message_sent(text)
    sent(ledger, jobId="x", url="u")  # an answer to no accepted job counts nothing
    assert ledger.snapshot()["accepted"] == 0
    assert ledger.unanswered == set()


def test_a_status_reply_for_an_answered_job_does_not_reopen_it():
    ledger = JobLedger()
    sent(ledger, jobId="a", status="accepted")
    sent(ledger, jobId="a", url="u")
    sent(ledger, jobId="a", status="succeeded", progress=100)  # getReport after a reconnect
    assert ledger.unanswered == set()
