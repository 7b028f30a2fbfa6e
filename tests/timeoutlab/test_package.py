"""``import timeoutlab``: the documented surface, cheap to import, neither locust nor gevent."""

from __future__ import annotations

import json
import subprocess
import sys

import timeoutlab

HEAVY = ("httpx", "boto3", "botocore", "locust", "gevent", "emulator.stack", "aiohttp")


def _modules_after(statement: str) -> set[str]:
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return set(json.loads(done.stdout))


def test_importing_the_package_and_the_plugin_loads_nothing_heavy() -> None:
    for statement in ("import timeoutlab", "import timeoutlab.pytest_plugin"):
        loaded = _modules_after(statement)
        assert not {name for name in HEAVY if name in loaded}, statement


def test_every_public_name_resolves_and_is_documented() -> None:
    for name in timeoutlab.__all__:
        value = getattr(timeoutlab, name)
        if name != "__version__":
            assert value.__doc__, name
    assert "Versioning" in (timeoutlab.__doc__ or "")
    assert timeoutlab.__version__
