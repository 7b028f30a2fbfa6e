"""The embedded moto server's process: ``python -m emulator.backends.moto_child ARGS``.

moto's own ``moto.server`` command with ARGS, which first holds the emulator's lifeline
(``emulator.lifeline``), so the server dies with the emulator even when the emulator is killed
with SIGKILL.
"""

from __future__ import annotations

import sys

from emulator.lifeline import hold


def main(argv: list[str]) -> None:
    """Hold the lifeline, then run moto's server with ``argv`` (its ``-H``/``-p`` options)."""
    hold()
    from moto.server import main as serve

    serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
