"""The timeoutlab pytest plugin (entry point ``pytest11`` ``timeoutlab``): your own
``serverless.yml`` behind the emulated API Gateway and Lambda, as fixtures.

Options and ini keys:

- ``--timeoutlab-service PATH`` (relative to the directory pytest was started in) / ini
  ``timeoutlab_service`` (relative to the rootdir; default ``serverless.yml`` in the rootdir): the
  service to run. A missing file named by the option or the ini key is a usage error at once; a
  missing default fails only the tests that use a stack, with the same message.
- ``--timeoutlab-time-scale SCALE`` / ini ``timeoutlab_time_scale`` (default 1.0): real seconds
  per emulated second. At 1.0 handlers wait in real time unless they read
  ``TIMEOUTLAB_TIME_SCALE``; a handler that scales its waits by it runs 100 times faster at 0.01.

Fixtures:

- ``timeoutlab_stack`` (session scope): a ``timeoutlab.Stack`` of the service, on free loopback
  ports with the embedded moto backend, started on first use (a run that never asks for it starts
  nothing), stopped at the end of the session. Under pytest-xdist each worker has its own.
- ``timeoutlab_isolated_stack`` (function scope): a stack of the test's own, stopped after it.

Marker ``@pytest.mark.timeoutlab(time_scale=None, integration_timeout=None, routes=None)``:
``integration_timeout`` (emulated seconds, the REST and WebSocket default) and ``routes``
(``{route key: seconds}``, REST, WebSocket or HTTP API keys) are applied to the stack before the
test and reverted after it; a ``time_scale`` other than the session's gives the test a session
stack of that scale (started once, shared by the tests that ask for the same scale; their ids get
``[timeoutlab-scale-S]``).

The plugin imports neither the emulator's servers nor locust nor gevent: stacks run in child
processes (see ``timeoutlab.stack``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from timeoutlab.settings import MAX_TIME_SCALE, StackSettings

if TYPE_CHECKING:
    from timeoutlab.stack import Stack

SERVICE_OPTION = "--timeoutlab-service"
SERVICE_INI = "timeoutlab_service"
SCALE_OPTION = "--timeoutlab-time-scale"
SCALE_INI = "timeoutlab_time_scale"
DEFAULT_SERVICE = "serverless.yml"
DEFAULT_SCALE = 1.0
MARKER = "timeoutlab"
MARKER_KEYS = ("time_scale", "integration_timeout", "routes")
STACK_FIXTURE = "timeoutlab_stack"
ISOLATED_FIXTURE = "timeoutlab_isolated_stack"
# looptime's pytest plugin (its ``pytest11`` entry point name) and pytest-asyncio's plugin name.
LOOPTIME_PLUGIN = "looptime_plugin"
ASYNCIO_PLUGIN = "asyncio"

_SERVICE = pytest.StashKey[tuple[Path, str]]()
_SCALE = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("timeoutlab", "timeoutlab: emulated API Gateway and Lambda stacks")
    group.addoption(
        SERVICE_OPTION,
        dest="timeoutlab_service",
        metavar="PATH",
        help=f"serverless.yml the timeoutlab fixtures run (default: ini {SERVICE_INI}, else "
        f"{DEFAULT_SERVICE} in the rootdir)",
    )
    group.addoption(
        SCALE_OPTION,
        dest="timeoutlab_time_scale",
        metavar="SCALE",
        help=f"real seconds per emulated second of the timeoutlab stacks (default: ini "
        f"{SCALE_INI}, else {DEFAULT_SCALE:g})",
    )
    parser.addini(
        SERVICE_INI,
        f"serverless.yml the timeoutlab fixtures run, relative to the rootdir (default: "
        f"{DEFAULT_SERVICE})",
    )
    parser.addini(
        SCALE_INI, f"real seconds per emulated second of the timeoutlab stacks (default: "
        f"{DEFAULT_SCALE:g})",
    )  # fmt: skip


def _missing_service(path: Path, source: str) -> str:
    return (
        f"timeoutlab: service file not found: {path} ({source}). Name your serverless.yml with "
        f"{SERVICE_OPTION} PATH or the ini key {SERVICE_INI} (default: {DEFAULT_SERVICE} in the "
        "rootdir)."
    )


def _parse_scale(text: str, source: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        raise pytest.UsageError(f"timeoutlab: {source} must be a number, got {text!r}") from None
    if not 0 < scale <= MAX_TIME_SCALE:
        raise pytest.UsageError(
            f"timeoutlab: {source} must be > 0 and <= {MAX_TIME_SCALE:g}, got {text}"
        )
    return scale


def block_looptime_without_asyncio(config: pytest.Config) -> bool:
    """Blocks looptime's pytest plugin when pytest-asyncio is not registered; returns whether it
    blocked it. Nothing changes where pytest-asyncio is installed (looptime then works) or where
    looptime is not installed.

    Why: looptime (0.9, a dependency of timeoutlab's ``test`` extra) registers a ``pytest11``
    plugin, ``looptime_plugin``, whose ``pytest_fixture_setup`` wrapper looks up
    ``pluginmanager.getplugin("asyncio")`` for EVERY fixture and reads its ``__name__``: without
    pytest-asyncio that is ``None`` and every fixture setup of the run errors with
    ``AttributeError: 'NoneType' object has no attribute '__name__'`` (looptime/_internal/
    plugin.py, ``_should_patch``). Its plugin does nothing without pytest-asyncio anyway (it only
    patches pytest-asyncio's event loops), so blocking it loses nothing. ``set_blocked`` is what
    ``-p no:looptime_plugin`` does, only later: it unregisters the plugin, hooks and fixtures
    included (https://pluggy.readthedocs.io/en/latest/api_reference.html#pluggy.PluginManager.set_blocked).
    Called from ``pytest_configure``: entry-point plugins and the rootdir's conftest
    ``pytest_plugins`` are registered by then, and no fixture is set up before the collection."""
    manager = config.pluginmanager
    if manager.getplugin(ASYNCIO_PLUGIN) is not None:
        return False
    if manager.getplugin(LOOPTIME_PLUGIN) is None:
        return False
    manager.set_blocked(LOOPTIME_PLUGIN)
    return True


def pytest_configure(config: pytest.Config) -> None:
    block_looptime_without_asyncio(config)
    config.addinivalue_line(
        "markers",
        f"{MARKER}(time_scale=None, integration_timeout=None, routes=None): integration "
        "timeouts (emulated s; routes: {route key: seconds}) applied to the timeoutlab stack "
        "for this test and reverted after it; another time_scale gets a stack of its own",
    )
    option = config.getoption("timeoutlab_service", default=None)
    ini = str(config.getini(SERVICE_INI) or "").strip()
    if option:
        service = (config.invocation_params.dir / option).resolve()
        source = f"{SERVICE_OPTION} {option}"
    elif ini:
        service = (config.rootpath / ini).resolve()
        source = f"ini {SERVICE_INI} = {ini}"
    else:
        service = config.rootpath / DEFAULT_SERVICE
        source = f"the default, {DEFAULT_SERVICE} in the rootdir"
    if (option or ini) and not service.is_file():
        raise pytest.UsageError(_missing_service(service, source))
    config.stash[_SERVICE] = (service, source)
    scale_option = config.getoption("timeoutlab_time_scale", default=None)
    scale_ini = str(config.getini(SCALE_INI) or "").strip()
    if scale_option is not None:
        scale = _parse_scale(str(scale_option), SCALE_OPTION)
    elif scale_ini:
        scale = _parse_scale(scale_ini, f"ini {SCALE_INI}")
    else:
        scale = DEFAULT_SCALE
    config.stash[_SCALE] = scale


def _marker_settings(marker: pytest.Mark) -> dict[str, Any]:
    """The marker's keyword arguments, checked: a usage mistake fails the test, not the run."""
    unknown = sorted(set(marker.kwargs) - set(MARKER_KEYS))
    if marker.args or unknown:
        pytest.fail(
            f"@pytest.mark.{MARKER} takes keyword arguments {', '.join(MARKER_KEYS)} only; got "
            f"{', '.join([*map(repr, marker.args), *unknown])}",
            pytrace=False,
        )
    routes = marker.kwargs.get("routes")
    if routes is not None and not isinstance(routes, Mapping):
        pytest.fail(
            f"@pytest.mark.{MARKER}(routes=...) must map route keys to seconds", pytrace=False
        )
    return dict(marker.kwargs)


def _marker_timeouts(settings: Mapping[str, Any]) -> dict[str | None, float | None]:
    changes: dict[str | None, float | None] = {}
    if settings.get("integration_timeout") is not None:
        changes[None] = settings["integration_timeout"]
    changes.update(settings.get("routes") or {})
    return changes


def _marker_scale(marker: pytest.Mark | None) -> float | None:
    if marker is None or marker.kwargs.get("time_scale") is None:
        return None
    value = marker.kwargs["time_scale"]
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = float("nan")
    if not 0 < scale <= MAX_TIME_SCALE:
        pytest.fail(
            f"@pytest.mark.{MARKER}(time_scale=...) must be > 0 and <= {MAX_TIME_SCALE:g}, "
            f"got {value!r}",
            pytrace=False,
        )
    return scale


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked with another ``time_scale`` than the session's gets the session stack of
    that scale: ``timeoutlab_stack`` is parametrized (indirectly, session scope) with it."""
    if STACK_FIXTURE not in metafunc.fixturenames:
        return
    scale = _marker_scale(metafunc.definition.get_closest_marker(MARKER))
    if scale is None or scale == metafunc.config.stash[_SCALE]:
        return
    metafunc.parametrize(
        STACK_FIXTURE, [scale], indirect=True, scope="session", ids=[f"timeoutlab-scale-{scale:g}"]
    )


class StackPool:
    """The session's stacks: one shared per time scale, started on first use; the isolated ones
    each test starts. Everything still running is stopped by ``close``."""

    def __init__(self, config: pytest.Config) -> None:
        self.service, self.source = config.stash[_SERVICE]
        self.scale = config.stash[_SCALE]
        self._shared: dict[float, Stack] = {}

    def settings(self, scale: float | None = None) -> StackSettings:
        if not self.service.is_file():
            pytest.fail(_missing_service(self.service, self.source), pytrace=False)
        return StackSettings(service=self.service, time_scale=scale or self.scale)

    def start(self, scale: float | None = None) -> Stack:
        """A new stack of the service at ``scale`` (default: the session's); a stack that does
        not start fails the test with its output."""
        from timeoutlab.stack import Stack, StackError

        settings = self.settings(scale)
        try:
            return Stack.start(settings)
        except StackError as exc:
            pytest.fail(
                f"timeoutlab: the stack of {settings.service} did not start: {exc}", pytrace=False
            )

    def shared(self, scale: float | None = None) -> Stack:
        """The session's stack at ``scale``, started on first use."""
        key = scale or self.scale
        stack = self._shared.get(key)
        if stack is None or not stack.running:
            stack = self._shared[key] = self.start(key)
        return stack

    def close(self) -> None:
        for stack in self._shared.values():
            stack.stop()
        self._shared.clear()


@pytest.fixture(scope="session")
def timeoutlab_stack_pool(request: pytest.FixtureRequest) -> Iterator[StackPool]:
    """Internal: the session's stacks, one per time scale, stopped at the session's end. (Named
    without a leading underscore: looptime's plugin, if installed, mistakes underscored fixtures
    for event loops.)"""
    pool = StackPool(request.config)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def timeoutlab_stack(request: pytest.FixtureRequest, timeoutlab_stack_pool: StackPool) -> Stack:
    """The session's ``timeoutlab.Stack`` of your service (``--timeoutlab-service``) at the
    session's time scale (``--timeoutlab-time-scale``), or at a ``timeoutlab`` marker's
    ``time_scale``; started on first use, on free ports, stopped at the session's end."""
    return timeoutlab_stack_pool.shared(getattr(request, "param", None))


def _apply(stack: Stack, changes: dict[str | None, float | None]) -> None:
    try:
        stack.set_integration_timeouts(changes)
    except ValueError as exc:
        pytest.fail(f"@pytest.mark.{MARKER}: the stack refused {changes}: {exc}", pytrace=False)


@pytest.fixture
def timeoutlab_isolated_stack(
    request: pytest.FixtureRequest, timeoutlab_stack_pool: StackPool
) -> Iterator[Stack]:
    """A ``timeoutlab.Stack`` for this test alone (the ``timeoutlab`` marker's time scale and
    timeouts applied), stopped after it."""
    marker = request.node.get_closest_marker(MARKER)
    settings = {} if marker is None else _marker_settings(marker)
    stack = timeoutlab_stack_pool.start(_marker_scale(marker))
    try:
        changes = _marker_timeouts(settings)
        if changes:
            _apply(stack, changes)
        yield stack
    finally:
        stack.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Applies a ``timeoutlab`` marker's timeouts to the session stack for the test that uses
    it, and puts the previous ones back after; does nothing for any other test. A hook rather
    than an autouse fixture: nothing runs in a test that uses no stack."""
    marker = item.get_closest_marker(MARKER)
    stack: Stack | None = getattr(item, "funcargs", {}).get(STACK_FIXTURE)
    changes = {} if marker is None or stack is None else _marker_timeouts(_marker_settings(marker))
    if stack is None or not changes:
        return (yield)
    saved = stack.integration_timeouts()
    _apply(stack, changes)
    try:
        return (yield)
    finally:
        stack.restore_integration_timeouts(saved)
