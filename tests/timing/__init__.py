"""End-to-end timing tests over real sockets: the gateway's deadlines as clients see them.

Run only these with ``pytest -m timing``, skip them with ``pytest -m "not timing"``.

They drive the bundled report app (real handlers, a real moto server, the real gateways on
loopback sockets) at ``tests.support.TEST_SCALE`` and assert only what holds on a loaded machine:

- never early, exactly: a client clock started before the request (or before the message, or
  before the handshake) reads at least the emulated duration when the answer arrives. Every
  gateway timer starts later than that instant, so an early answer is a bug, not noise;
- late by at most ``emulator.core.precision.lateness_allowance(duration, scale)``: 5 % of the
  emulated duration or 250 ms of real time, whichever is more (12.5 emulated s at scale 0.02).
  It is generous on purpose: the bound is measured at the client, so it includes the loopback
  round trip, the client's own unscaled processing and, on a loaded two-core machine, whatever
  the scheduler and the garbage collector take; at scale 0.02 every real millisecond is 0.05
  emulated s. The constants live in ``emulator.core.precision`` and nowhere else;
- at the gateway, measured with the emulator's clock (``/_emulator/metrics`` ``precision``): the
  lateness of each deadline it kept is >= 0, never early there either. How late it was, and the
  processing overhead it added, are printed in the terminal summary ("timing figures"), not
  asserted tightly: they are the figures the demo and the scenario report show.

The report pushed over the WebSocket runs at scale 0.25 instead (10 real s): after its delay the
report app makes some seven calls to S3, DynamoDB and @connections in real, unscaled time, up to
300 ms with two CPU hogs, more than the 250 ms floor; at 0.25 its allowance is 5 % (500 real ms).

The functions are warmed first: a cold start is real (unscaled) time, which counts against the
deadline on AWS too, but it is not what these tests measure.
"""
