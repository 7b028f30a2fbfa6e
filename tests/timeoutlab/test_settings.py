"""``StackSettings``: validated at construction, turned into ``timeoutlab up`` arguments."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from timeoutlab import StackSettings


@pytest.fixture
def service(tmp_path: Path) -> Path:
    path = tmp_path / "serverless.yml"
    path.write_text("service: s\n")
    return path


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"time_scale": 0}, "time_scale must be > 0 and <= 1000"),
        ({"time_scale": 1001}, "time_scale must be > 0 and <= 1000"),
        ({"time_scale": float("nan")}, "time_scale must be a number"),
        ({"time_scale": True}, "time_scale must be a number"),
        ({"integration_timeout_s": 0.01}, "integration_timeout_s must be 0.05..900"),
        ({"integration_timeout_s": 901}, "integration_timeout_s must be 0.05..900"),
        ({"credentials": "nosecret"}, "credentials must be 'ACCESS_KEY:SECRET_KEY'"),
        ({"credentials": ":secret"}, "credentials must be 'ACCESS_KEY:SECRET_KEY'"),
        ({"control_token": "two words"}, "control_token must be non-empty, without spaces"),
        ({"control_token": ""}, "control_token must be non-empty, without spaces"),
        ({"start_timeout_s": 0}, "start_timeout_s must be positive"),
        ({"host": ""}, "host must be an address"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(
    service: Path, overrides: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        StackSettings(service=service, **overrides)


def test_a_missing_service_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"service file not found: .*nowhere\.yml"):
        StackSettings(service=tmp_path / "nowhere.yml")


def test_the_command_runs_on_free_ports_and_keeps_the_secrets_off_it(service: Path) -> None:
    settings = StackSettings(
        service=service,
        time_scale=0.5,
        integration_timeout_s=10,
        credentials="AKID:secret",
        control_token="s3cret",
        extra_args=("--ws-idle-timeout", "60"),
    )
    assert settings.service == service.resolve()
    assert settings.credential_pair == ("AKID", "secret")
    command = settings.command(Path("/tmp/ready.json"))
    for option in ("--http-port", "--ws-port", "--http-api-port", "--backend-port"):
        assert command[command.index(option) + 1] == "0"
    assert command[command.index("--time-scale") + 1] == "0.5"
    assert command[command.index("--integration-timeout") + 1] == "10.0"
    assert "--credentials" not in command  # it goes in the child's environment, out of ps
    assert {"--exit-with-parent", "--prewarm"} <= set(command)
    assert command[-2:] == ["--ws-idle-timeout", "60"]
    assert "s3cret" not in command  # it goes in the child's environment, out of ps
    assert "--no-prewarm" in StackSettings(service=service, prewarm=False).command(Path("r"))


def test_the_secrets_go_to_the_child_by_its_environment_never_its_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emulator.core.control_access import CONTROL_TOKEN_VARIABLE as CLI_TOKEN_VARIABLE
    from emulator.core.sigv4 import CREDENTIALS_VARIABLE as CLI_CREDENTIALS_VARIABLE
    from timeoutlab.stack import CONTROL_TOKEN_VARIABLE, CREDENTIALS_VARIABLE, _child_environment

    assert (CONTROL_TOKEN_VARIABLE, CREDENTIALS_VARIABLE) == (
        CLI_TOKEN_VARIABLE,
        CLI_CREDENTIALS_VARIABLE,
    )
    service = tmp_path / "serverless.yml"
    service.write_text("service: s\n")
    secret = StackSettings(service=service, credentials="AKID:sekrit", control_token="T0KEN")
    assert not any("sekrit" in arg or "T0KEN" in arg for arg in secret.command(tmp_path / "r"))
    child = _child_environment(secret)
    assert (child[CREDENTIALS_VARIABLE], child[CONTROL_TOKEN_VARIABLE]) == ("AKID:sekrit", "T0KEN")
    # What the caller's shell has does not switch checks on behind settings that say none.
    monkeypatch.setenv(CREDENTIALS_VARIABLE, "AKIDENV:envsecret")
    monkeypatch.setenv(CONTROL_TOKEN_VARIABLE, "inherited")
    plain = _child_environment(StackSettings(service=service))
    assert CREDENTIALS_VARIABLE not in plain
    assert CONTROL_TOKEN_VARIABLE not in plain
