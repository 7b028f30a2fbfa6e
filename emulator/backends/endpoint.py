"""A backend endpoint: where S3 and DynamoDB answer, and how handlers are told about it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from emulator.core.backend_watch import CHECK_TIMEOUT_SECONDS, BackendState

#: Emulators accept any credentials; these make sure no real AWS account is ever used.
DUMMY_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class BackendError(RuntimeError):
    """The backend cannot be used; the message names it and says what to do."""


def validate_endpoint_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise BackendError(f"backend URL must look like http://HOST:PORT, got {url!r}")
    return url.rstrip("/")


@dataclass
class Backend:
    """An AWS-compatible endpoint serving (at least) S3 and DynamoDB."""

    kind: str  # "moto", "localstack" or "url"
    endpoint_url: str
    region: str = "us-east-1"
    # What the watcher last found (emulator.backends.watcher); health shows it.
    state: BackendState = BackendState.UP
    restarts: int = 0  # times the embedded server was started again
    down_reason: str | None = None  # why it is (or last was) down, one line

    def client(
        self, service: str, *, timeout: float = 10.0, attempts: int = 3, connections: int = 10
    ):
        """A boto3 client for ``service`` here; ``attempts`` counts the first call and retries."""
        config = Config(
            connect_timeout=min(timeout, 10.0),
            read_timeout=timeout,
            retries={"total_max_attempts": attempts},
            max_pool_connections=connections,
            s3={"addressing_style": "path"},
        )
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=config,
            **DUMMY_CREDENTIALS,
        )

    def handler_environment(self) -> dict[str, str]:
        """What a Lambda needs to reach this backend with unchanged AWS code."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def check(self, *, lambdas: bool = False) -> None:
        """Fail clearly, naming the endpoint and the service, when the backend cannot serve us
        (S3 and DynamoDB, and Lambda too when ``lambdas``)."""
        services = [("s3", "list_buckets"), ("dynamodb", "list_tables")]
        if lambdas:
            services.append(("lambda", "list_functions"))
        for service, call in services:
            try:
                getattr(self.client(service, timeout=3.0), call)()
            except (BotoCoreError, ClientError) as exc:
                raise BackendError(
                    f"{self.kind} backend at {self.endpoint_url} does not serve {service}: {exc}"
                ) from exc

    def answers(self, timeout: float = CHECK_TIMEOUT_SECONDS) -> bool:
        """Whether the endpoint answers an HTTP request at all (any status: a cheap liveness
        check, not a service check); False on a refused, reset or timed-out connection."""
        try:
            httpx.get(self.endpoint_url + "/", timeout=timeout)
        except httpx.HTTPError:
            return False
        return True

    def describe(self) -> dict:
        """What health shows: kind, endpoint, region, ``state`` (up, down, restarting), the
        embedded server's ``restarts`` and the last ``down_reason``."""
        return {
            "kind": self.kind,
            "endpoint": self.endpoint_url,
            "region": self.region,
            "state": self.state.value,
            "restarts": self.restarts,
            "down_reason": self.down_reason,
        }

    def close(self) -> None:
        """External backends belong to someone else: nothing to stop."""


def localstack_endpoint() -> str:
    """Where LocalStack is, found the way localstack-client finds it (LOCALSTACK_HOST, USE_SSL)."""
    from localstack_client.config import get_service_endpoint

    endpoint = get_service_endpoint("s3")
    if not endpoint:
        raise BackendError("localstack-client could not tell where LocalStack is")
    return validate_endpoint_url(endpoint)
