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


def test_an_answer_sent_before_the_acceptance_counts_once_the_acceptance_comes():
    ledger = JobLedger()
    sent(ledger, jobId="fast", url="u")  # pushed through @connections before the route answered
    assert ledger.snapshot()["accepted"] == 0
    sent(ledger, jobId="fast", status="accepted")
    assert ledger.snapshot() == {
        "accepted": 1,
        "answered_url": 1,
        "answered_error": 0,
        "unanswered": 0,
    }


def test_a_url_after_an_error_counts_the_job_as_answered_with_the_url():
    ledger = JobLedger()
    sent(ledger, jobId="a", status="accepted")
    sent(ledger, jobId="a", error="first attempt failed")
    sent(ledger, jobId="a", url="u")
    sent(ledger, jobId="a", error="again")  # an error after the url does not take it back
    assert ledger.snapshot() == {
        "accepted": 1,
        "answered_url": 1,
        "answered_error": 0,
        "unanswered": 0,
    }


def test_memory_is_bounded_by_the_answers_remembered_and_the_counts_stay_exact():
    ledger = JobLedger(remembered=10)
    for n in range(1000):
        sent(ledger, jobId=f"job-{n}", status="accepted")
        sent(ledger, jobId=f"job-{n}", **({"url": "u"} if n % 4 else {"error": "e"}))
    sent(ledger, jobId="open", status="accepted")
    assert len(ledger._answered) == 10
    assert ledger.unanswered == {"open"}
    assert ledger.snapshot() == {
        "accepted": 1001,
        "answered_url": 750,
        "answered_error": 250,
        "unanswered": 1,
    }
    # a status message for a job answered among the last ten does not open it again
    sent(ledger, jobId="job-999", status="succeeded")
    assert ledger.unanswered == {"open"}
