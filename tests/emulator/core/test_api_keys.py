import pytest

from emulator.core.api_keys import ApiKey, ApiKeys
from emulator.core.responses import GatewayError

KEYS = ApiKeys(
    [
        ApiKey(name="on", value="a" * 20, id="id00000001"),
        ApiKey(name="off", value="b" * 20, id="id00000002", enabled=False),
    ]
)


def test_an_enabled_key_in_the_header_is_accepted_whatever_the_header_case():
    assert KEYS.check([("X-API-Key", "a" * 20)]).name == "on"


@pytest.mark.parametrize("headers", [[], [("x-api-key", "nope")], [("x-api-key", "b" * 20)]])
def test_a_missing_unknown_or_disabled_key_is_403_forbidden(headers):
    with pytest.raises(GatewayError) as raised:
        KEYS.check(headers)
    response = raised.value.response
    assert response.status == 403
    assert response.body == b'{"message":"Forbidden"}'
    assert response.header("x-amzn-ErrorType") == "ForbiddenException"
