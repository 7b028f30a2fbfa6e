"""The timing set's assertions: the bounds every timing test holds a deadline to."""

from __future__ import annotations

from emulator.core.precision import lateness_allowance
from emulator.stack import Stack


def client_bounds(stack: Stack, elapsed_s: float, due_s: float) -> str:
    """Asserts a client-measured ``elapsed_s`` (emulated) is never before ``due_s`` and late by
    at most the allowance; returns the figures as a line."""
    allowance = lateness_allowance(due_s, stack.clock.scale)
    assert elapsed_s >= due_s, f"early: {elapsed_s:.4f} s < {due_s} s"
    assert elapsed_s <= due_s + allowance, (
        f"late: {elapsed_s:.4f} s > {due_s} s + allowance {allowance:g} s"
    )
    return f"client {elapsed_s - due_s:+.3f} (allowance {allowance:g})"


def gateway_lateness(figures: dict, key: str = "lateness_s") -> float:
    """The one lateness the gateway measured since the metrics were reset; asserts it is >= 0."""
    late = figures[key]
    assert late["samples"] == 1, figures
    assert late["median"] >= 0, f"the gateway answered early: {late}"
    return late["median"]


def gateway_overhead(figures: dict) -> str:
    """The processing overhead of the one request answered with a Lambda's result since the
    metrics were reset; asserts it is >= 0 (the emulator cannot take less than nothing)."""
    added = figures["overhead_s"]
    assert added["samples"] == 1, figures
    assert added["median"] >= 0, added
    return f"gateway overhead median {added['median']:.4f}, p95 {added['p95']:.4f}"
