"""Load shapes as plain stages: how many users run, and how fast they start, until when.

Computed from the scenario's numbers alone, without Locust (importing Locust patches the process
with gevent, which only the phase subprocess may do); ``locust_phase`` plays them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    until_s: float  # real seconds since the phase started
    users: int
    spawn_rate: float  # users started (or stopped) per real second


def steady(users: int, spawn_rate: float, run_time_s: float) -> list[Stage]:
    return [Stage(run_time_s, users, spawn_rate)]


def spike(users: int, spawn_rate: float, run_time_s: float) -> list[Stage]:
    """A quarter of the users; all of them, started at once, for a fifth of the run; back."""
    base = max(1, users // 4)
    burst = float(max(spawn_rate, users))
    return [
        Stage(0.4 * run_time_s, base, spawn_rate),
        Stage(0.6 * run_time_s, users, burst),
        Stage(run_time_s, base, burst),
    ]


SHAPES = {"steady": steady, "spike": spike}
