"""The one clock of the emulator: it knows the time scale.

Every emulated duration (report delay, integration timeout, Lambda timeout, ...) is converted to
real time here and nowhere else, so ``--time-scale 0.01`` plays a 40 s report in 0.4 s. Figures
shown to users are emulated seconds. The rules core never reads a clock: it is handed ``now``.

Everything that needs time takes a ``Clock``. Two kinds satisfy it:

- ``ScaledClock`` reads a monotonic time source, by default the real one; built with
  ``ScaledClock.of_loop(loop)`` it reads an event loop's time instead, which is how the tests
  run the gateways on a virtual event-loop clock (``looptime``) with no wall-clock sleeping;
- ``ManualClock`` moves only when told to, for the rules core and the books.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

#: Environment variables through which Lambda handlers learn the emulated clock. On AWS they are
#: unset and handlers run on real time; the same names are read by ``reportapp/lambda_time.py``.
TIME_SCALE_ENV = "TIMEOUTLAB_TIME_SCALE"
EPOCH_ANCHOR_ENV = "TIMEOUTLAB_EPOCH_ANCHOR"
#: One anchor per process, so every clock here (and every handler) agrees on the emulated epoch.
_PROCESS_ANCHOR = time.time()


def validate_scale(scale: float) -> float:
    """``scale`` as a float; ValueError unless 0 < scale <= 1000 (real seconds per emulated one)."""
    if not 0 < scale <= 1000:
        raise ValueError(f"time scale must be > 0 and <= 1000, got {scale!r}")
    return float(scale)


@runtime_checkable
class Clock(Protocol):
    """Emulated time, as every part of the emulator reads and waits for it.

    ``scale`` is real seconds per emulated second. ``now()`` is emulated seconds since an
    arbitrary start (monotonic); ``epoch()`` the emulated Unix time in seconds. ``to_real`` and
    ``to_emulated`` convert durations; ``sleep(seconds)`` returns once ``now()`` has moved on by
    at least ``seconds`` emulated seconds. ``handler_environment()`` is what Lambda handlers are
    given to share this clock (``TIMEOUTLAB_TIME_SCALE``, ``TIMEOUTLAB_EPOCH_ANCHOR``).
    """

    @property
    def scale(self) -> float: ...

    def now(self) -> float: ...

    def epoch(self) -> float: ...

    def to_real(self, seconds: float) -> float: ...

    def to_emulated(self, real_seconds: float) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    def handler_environment(self) -> dict[str, str]: ...


class ScaledClock:
    """Real time, stretched or squeezed by ``scale`` (emulated = real / scale).

    The emulated epoch starts at the real epoch of ``anchor`` and then runs ``1/scale`` times as
    fast, so emulator and handlers (given the same anchor) agree on "now". ``monotonic`` and
    ``wall`` are the time sources (real seconds); the defaults are the system's clocks.
    ``sleep`` waits on the running event loop, whose timers read the same source as ``now``
    when the clock is made by ``of_loop``.
    """

    def __init__(
        self,
        scale: float = 1.0,
        anchor: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._scale = validate_scale(scale)
        self.anchor = _PROCESS_ANCHOR if anchor is None else anchor
        self._monotonic = monotonic
        self._wall = wall
        self._mono0 = monotonic()

    @classmethod
    def of_loop(cls, loop: asyncio.AbstractEventLoop, scale: float = 1.0) -> ScaledClock:
        """A clock that reads ``loop.time()``: on a virtual-time loop (``looptime``) emulated
        time then moves only as the loop's timers do, and real time plays no part."""
        wall0 = time.time()
        loop0 = loop.time()
        return cls(scale, wall0, monotonic=loop.time, wall=lambda: wall0 + loop.time() - loop0)

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        return (self._monotonic() - self._mono0) / self._scale

    def epoch(self) -> float:
        return self.anchor + (self._wall() - self.anchor) / self._scale

    def to_real(self, seconds: float) -> float:
        return max(0.0, seconds) * self._scale

    def to_emulated(self, real_seconds: float) -> float:
        return real_seconds / self._scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.to_real(seconds))

    def handler_environment(self) -> dict[str, str]:
        """The variables that give Lambda handlers this clock."""
        return {TIME_SCALE_ENV: repr(self._scale), EPOCH_ANCHOR_ENV: repr(self.anchor)}


class ManualClock:
    """A clock that only moves when told to (``advance``), for testing rules without sleeping.

    It has no real time behind it: ``sleep`` moves it on by the time asked for and returns, and
    conversions use ``scale`` like ``ScaledClock``'s.
    """

    def __init__(self, start: float = 0.0, epoch: float = 1_700_000_000.0, scale: float = 1.0):
        self._scale = validate_scale(scale)
        self._now = start
        self._epoch0 = epoch - start

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        return self._now

    def epoch(self) -> float:
        return self._epoch0 + self._now

    def to_real(self, seconds: float) -> float:
        return max(0.0, seconds) * self._scale

    def to_emulated(self, real_seconds: float) -> float:
        return real_seconds / self._scale

    def advance(self, seconds: float) -> None:
        """Move emulated time on by ``seconds`` (>= 0)."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back, asked to advance by {seconds}")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    def handler_environment(self) -> dict[str, str]:
        """The variables that give Lambda handlers this clock: its scale and epoch start."""
        return {TIME_SCALE_ENV: repr(self._scale), EPOCH_ANCHOR_ENV: repr(self._epoch0)}
