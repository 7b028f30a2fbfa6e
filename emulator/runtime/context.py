"""The ``context`` object AWS passes to Python handlers, with time in emulated milliseconds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from emulator.core.events import ACCOUNT_ID


class LambdaContext:
    """Same attributes and method as AWS's Python runtime (awslambdaric) provides."""

    def __init__(
        self,
        *,
        function_name: str,
        memory_mb: int,
        region: str,
        request_id: str,
        remaining_seconds: Callable[[], float],
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = str(memory_mb)  # a string, as in AWS's runtime
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        day = time.strftime("%Y/%m/%d", time.gmtime())
        self.log_stream_name = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._remaining_seconds = remaining_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._remaining_seconds() * 1000))
