"""The backend watch rules: health status, the exit policy, restart and check backoff."""

from emulator.core.backend_watch import (
    BACKEND_EXIT_CODE,
    CHECK_BACKOFF_MAX_SECONDS,
    CHECK_INTERVAL_SECONDS,
    RESTART_DELAY_MAX_SECONDS,
    BackendState,
    Exit,
    FailureRun,
    OnBackendExit,
    Restart,
    Transition,
    after_process_exit,
    health_status,
    last_words,
    next_check_delay,
    restart_delay,
    transition,
)


def test_health_is_ok_only_while_the_backend_is_up():
    assert health_status(BackendState.UP) == "ok"
    assert health_status(BackendState.DOWN) == "degraded"
    assert health_status(BackendState.RESTARTING) == "degraded"


def test_a_dead_embedded_server_is_restarted_at_once_or_the_emulator_exits_with_one_line():
    assert after_process_exit(OnBackendExit.RESTART, "moto", 42, -9) == Restart(0.0)
    decision = after_process_exit(OnBackendExit.EXIT, "the embedded moto server", 42, -9)
    assert isinstance(decision, Exit)
    assert decision.code == BACKEND_EXIT_CODE != 0
    assert "the embedded moto server (pid 42) exited with code -9" in decision.message
    assert "\n" not in decision.message


def test_failed_restarts_back_off_to_a_ceiling():
    assert restart_delay(0) == 0.0
    delays = [restart_delay(n) for n in range(1, 10)]
    assert delays[:3] == [1.0, 2.0, 4.0]
    assert delays == sorted(delays)
    assert delays[-1] == RESTART_DELAY_MAX_SECONDS


def test_an_external_backend_is_checked_steadily_and_less_often_while_it_is_silent():
    assert next_check_delay(0) == CHECK_INTERVAL_SECONDS
    assert next_check_delay(1) == CHECK_INTERVAL_SECONDS
    assert next_check_delay(2) == 2 * CHECK_INTERVAL_SECONDS
    assert next_check_delay(50) == CHECK_BACKOFF_MAX_SECONDS


def test_only_a_change_of_state_is_worth_a_log_line():
    assert transition(BackendState.UP, answered=True) is None
    assert transition(BackendState.DOWN, answered=False) is None
    assert transition(BackendState.UP, answered=False) == Transition(
        BackendState.UP, BackendState.DOWN
    )
    assert transition(BackendState.DOWN, answered=True) == Transition(
        BackendState.DOWN, BackendState.UP
    )


# -- the backend down line's last words, and the usage proxy's runs of failures ------------------

ACCESS = '127.0.0.1 - - [30/Nov/2026 22:00:00] "GET /timeoutlab HTTP/1.1" 200 -'


def test_last_words_leave_out_access_log_and_blank_lines():
    lines = ["Traceback (most recent call last):", "MemoryError", ACCESS, "", ACCESS]
    assert last_words(lines, 2) == ["Traceback (most recent call last):", "MemoryError"]
    assert last_words([ACCESS, ACCESS], 2) == []
    assert last_words(["a", "b", "c"], 0) == []


def test_a_failure_run_is_logged_when_it_starts_and_counted_when_it_ends():
    run = FailureRun()
    assert run.answered() == 0  # nothing failed: nothing to say
    assert [run.failure() for _ in range(40)] == [True] + [False] * 39
    assert run.answered() == 40
    assert run.answered() == 0
    assert run.failure()  # a new outage starts a new run
