"""The rules core: routing, event shapes, proxy mapping, deadlines and AWS error shapes.

Nothing here reads a clock or touches a socket. Callers pass ``now`` in and get decisions out,
so every rule is tested with plain values and a manual clock.
"""
