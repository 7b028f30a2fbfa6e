from scenarios.crosscheck import Check, cross_check, number_at


def metrics(rest_requests=0, rest_conns=0, ws_opened=0, ws_refused=None, messages_in=0):
    return {
        "rest": {"requests": rest_requests},
        "http_port": {"rest": {"tcp_connections": rest_conns}},
        "websocket": {
            "connections_opened": ws_opened,
            "connections_refused": ws_refused or {},
            "messages_in": messages_in,
        },
    }


def test_a_path_that_is_absent_counts_zero_and_a_dict_its_sum():
    snapshot = metrics(ws_refused={"429": 2, "403": 1})
    assert number_at(snapshot, "websocket.connections_refused") == 3
    assert number_at(snapshot, "backend.s3.tier1_requests") == 0


def test_counts_within_a_few_percent_agree_and_beyond_do_not():
    assert Check("x", 100, 103).ok
    assert not Check("x", 100, 104).ok
    assert Check("x", 0, 0).ok
    assert "MISMATCH" in str(Check("REST API requests", 10, 20))


def test_each_port_is_checked_against_the_labels_that_use_it():
    totals = {
        "rest": {"http_requests": 5, "tcp_connections": 5},
        "websocket": {"tcp_connections": 4, "ws_messages_sent": 4},
        "websocket-idle": {"tcp_connections": 3},
    }
    before = metrics(rest_requests=10, rest_conns=10, ws_opened=1)
    after = metrics(
        rest_requests=15, rest_conns=10, ws_opened=7, ws_refused={"429": 1}, messages_in=4
    )
    checks = {c.what: c for c in cross_check(totals, before, after)}
    assert checks["REST API requests"].ok
    assert not checks["REST API connections"].ok  # 5 seen by the clients, none by the emulator
    assert checks["WebSocket connections"].emulator == 7
    assert checks["WebSocket connections"].ok
    assert checks["WebSocket messages up"].ok
    assert "REST API bytes up" not in checks  # neither side saw any
