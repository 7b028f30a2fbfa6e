"""The scenario runner's reads of a running emulator's control plane (scenarios.runner.Target)."""

import pytest

from emulator.stack import StackThread
from scenarios.runner import ScenarioError, Target
from tests.support import stack_config


def test_a_token_protected_emulator_is_read_with_the_token_from_the_environment(
    moto_server, monkeypatch
):
    with StackThread(stack_config(moto_server.endpoint_url, control_token="s3cret")) as stack:
        target = Target(stack.rest_url, stack.ws_url)
        monkeypatch.delenv("TIMEOUTLAB_CONTROL_TOKEN", raising=False)
        assert target.get("health")["status"] == "ok"  # health is open
        with pytest.raises(ScenarioError, match="401"):
            target.get("metrics")
        monkeypatch.setenv("TIMEOUTLAB_CONTROL_TOKEN", "s3cret")
        assert "rest" in target.get("metrics")
