import pytest

from emulator.clock import ManualClock
from emulator.core.connection_limits import (
    Close,
    Lifetime,
    MessageAssembler,
    RateLimiter,
    WebSocketLimits,
)

LIMITS = WebSocketLimits()


def test_idle_timeout_is_reset_by_activity_and_max_duration_is_not():
    clock = ManualClock()
    life = Lifetime(clock.now(), LIMITS)
    assert life.next_deadline() == 600
    clock.advance(599)
    assert life.expired(clock.now()) is None
    life.touch(clock.now())
    clock.advance(599)
    assert life.expired(clock.now()) is None
    clock.advance(1)
    assert life.expired(clock.now()) == Close(1001, "Going away: idle timeout")
    busy = Lifetime(0, LIMITS)
    for minute in range(1, 121):
        busy.touch(minute * 60 - 1)
    assert busy.next_deadline() == 7200
    assert busy.expired(7200).reason == "Going away: maximum connection duration reached"


def test_messages_assemble_from_frames_within_the_limits():
    assembler = MessageAssembler(LIMITS)
    k32 = b"x" * (32 * 1024)
    assert assembler.frame(k32, first=True, binary=False, fin=False) is None
    assert assembler.frame(k32, first=False, binary=False, fin=False) is None
    assert assembler.frame(b"end", first=False, binary=False, fin=True) == k32 * 2 + b"end"
    assert assembler.frame(b"one", first=True, binary=False, fin=True) == b"one"


def test_a_binary_message_closes_with_1003_unsupported_data():
    assembler = MessageAssembler(LIMITS)
    refused = assembler.frame(b"one", first=True, binary=True, fin=False)
    assert refused == Close(1003, "Binary frames are not supported")


def test_a_frame_over_32_kb_or_a_message_over_128_kb_closes_with_1009():
    assembler = MessageAssembler(LIMITS)
    too_big_frame = assembler.frame(b"x" * (32 * 1024 + 1), first=True, binary=False, fin=True)
    assert isinstance(too_big_frame, Close)
    assert too_big_frame.code == 1009
    k32 = b"x" * (32 * 1024)
    for _ in range(4):
        assert assembler.frame(k32, first=_ == 0, binary=False, fin=False) is None
    too_big_message = assembler.frame(b"!", first=False, binary=False, fin=True)
    assert too_big_message.code == 1009
    assert "128 KB" in too_big_message.reason


def test_rate_limiter_allows_a_burst_then_the_rate():
    limiter = RateLimiter(rate=10, now=0.0)
    assert [limiter.allow(0.0) for _ in range(11)] == [True] * 10 + [False]
    assert limiter.allow(0.05) is False
    assert limiter.allow(0.1) is True


@pytest.mark.parametrize(
    "kwargs", [{"idle_timeout": 0}, {"max_frame_bytes": 0}, {"max_frame_bytes": 200_000}]
)
def test_nonsense_limits_are_refused(kwargs):
    with pytest.raises(ValueError, match="must be"):
        WebSocketLimits(**kwargs)


def test_a_text_message_that_is_not_utf8_closes_with_1007():
    assembler = MessageAssembler(LIMITS)
    euro = "€".encode()  # three bytes: a character may straddle two frames
    assert assembler.frame(b"a" + euro[:2], first=True, binary=False, fin=False) is None
    assert assembler.frame(euro[2:], first=False, binary=False, fin=True) == b"a" + euro
    assert assembler.frame(b"ok \xff", first=True, binary=False, fin=True) == Close(
        1007, "Invalid UTF-8 in a text message"
    )
    # A message that ends mid-character is not UTF-8 either.
    assert assembler.frame(euro[:2], first=True, binary=False, fin=True).code == 1007
    # The next message starts clean.
    assert assembler.frame(b"fine", first=True, binary=False, fin=True) == b"fine"
