"""The embedded moto server's process: ``python -m emulator.backends.moto_child ARGS``.

moto's own ``moto.server`` command with ARGS, which first holds the emulator's lifeline
(``emulator.lifeline``), so the server dies with the emulator even when the emulator is killed
with SIGKILL.
"""

from __future__ import annotations

import signal
import sys

from emulator.lifeline import hold


def main(argv: list[str]) -> None:
    """Hold the lifeline, then run moto's server with ``argv`` (its ``-H``/``-p`` options).

    SIGINT is ignored: a terminal's Ctrl-C reaches the whole foreground process group, and the
    backend must outlive the emulator's graceful stop (in-flight handlers still call it); the
    emulator ends it with SIGTERM once they are done, and the lifeline if the emulator dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    hold()
    from moto.server import main as serve

    serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
