"""API keys of a REST API: which request may call a method that requires one (``private: true``).

A method with ``ApiKeyRequired`` is called only with an ``x-api-key`` header whose value is an
enabled key in a usage plan of the stage; any other request gets the INVALID_API_KEY gateway
response, ``403 {"message":"Forbidden"}``, and the Lambda is not invoked
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
Serverless puts every key of ``provider.apiGateway.apiKeys`` in a usage plan of the stage
(https://www.serverless.com/framework/docs/providers/aws/events/apigateway#setting-api-keys-for-your-rest-api),
so here every declared key is usable on every ``private`` method.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emulator.core import responses
from emulator.core.responses import GatewayError

#: The header that carries the key (``apiKeySource: HEADER``, the default): "require them to
#: pass the API key as the X-API-Key header of each incoming request"; a key that matches no
#: key of the usage plans is "a 403 Forbidden response"
#: (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-key-source.html).
API_KEY_HEADER = "x-api-key"
#: "The value of the API key. Must be at least 20 characters long."
#: (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-apigateway-apikey.html)
MIN_KEY_LENGTH = 20


@dataclass(frozen=True)
class ApiKey:
    """One API key: ``name`` as declared, ``value`` (given, or generated at start), ``id`` as
    ``requestContext.identity.apiKeyId`` shows it, ``usage_plan`` the Serverless plan it is in
    (None for the default plan), ``generated`` when the emulator made the value up."""

    name: str
    value: str
    id: str
    enabled: bool = True
    usage_plan: str | None = None
    generated: bool = False

    def describe(self) -> dict:
        """For ``/_emulator/health`` and the start banner."""
        return {
            "name": self.name,
            "value": self.value,
            "id": self.id,
            "enabled": self.enabled,
            "usagePlan": self.usage_plan,
            "generated": self.generated,
        }


class ApiKeys:
    """The keys of one stage, looked up by value."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self.keys: Sequence[ApiKey] = tuple(keys)
        self._by_value = {key.value: key for key in self.keys}

    def check(self, headers: Iterable[tuple[str, str]]) -> ApiKey:
        """The key a request to a ``private`` method presents, or GatewayError(403 Forbidden)
        when the header is missing, unknown or names a disabled key. The header name is
        case-insensitive, as HTTP header names are; the value is compared exactly."""
        value = next((v for k, v in headers if k.lower() == API_KEY_HEADER), None)
        key = self._by_value.get(value) if value is not None else None
        if key is None or not key.enabled:
            raise GatewayError(responses.invalid_api_key())
        return key
