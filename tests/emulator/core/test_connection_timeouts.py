import pytest

from emulator.core.connection_timeouts import (
    DEFAULT_LISTEN_BACKLOG,
    ConnectionTimeouts,
    backlog_warning,
)


def test_defaults_are_long_enough_for_an_honest_client():
    timeouts = ConnectionTimeouts()
    assert timeouts.header_timeout >= 10
    assert timeouts.idle_timeout >= 60
    assert DEFAULT_LISTEN_BACKLOG == 1024


@pytest.mark.parametrize("kwargs", [{"header_timeout": 0}, {"idle_timeout": -1}])
def test_timeouts_must_be_positive(kwargs):
    with pytest.raises(ValueError, match="must be positive"):
        ConnectionTimeouts(**kwargs)


def test_a_kernel_cap_below_the_backlog_is_warned_about_in_one_line():
    assert backlog_warning(1024, 4096) is None
    assert backlog_warning(1024, 1024) is None
    assert backlog_warning(1024, None) is None  # unknown: nothing to say
    warning = backlog_warning(1024, 128)
    assert warning is not None
    assert "net.core.somaxconn = 128" in warning
    assert "\n" not in warning
