"""Where the handlers run: in a Lambda execution environment, or imported by something else.

AWS's advice is to make SDK clients outside the handler, during the Init phase, so the first
invocation of each environment does not pay for them
(https://docs.aws.amazon.com/lambda/latest/dg/best-practices.html: "Initialize SDK clients and
database connections outside of the function handler"). The report app's clients are made on
first use so its modules can be imported anywhere (tests, tools); in an execution environment
each module makes them at import, which is Init.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def initialise(*factories: Callable[[], object]) -> None:
    """Call each client factory now if this process is a Lambda execution environment (AWS
    sets ``AWS_LAMBDA_RUNTIME_API`` there, and so does timeoutlab); elsewhere do nothing."""
    if "AWS_LAMBDA_RUNTIME_API" in os.environ:
        for factory in factories:
            factory()
