"""Time as the handlers see it: real on AWS, scaled under timeoutlab.

timeoutlab sets TIMEOUTLAB_TIME_SCALE (and the anchor of its emulated epoch) in the function's
environment; on AWS neither is set and this is plain ``time``. Waiting happens in short real slices
so that a function stopped at its timeout stops promptly.
"""

import os
import time

_SLICE_SECONDS = 0.05


def scale() -> float:
    return float(os.environ.get("TIMEOUTLAB_TIME_SCALE", "1"))


def now() -> float:
    """Seconds since the epoch, emulated (what AWS timestamps and DynamoDB TTLs compare with)."""
    anchor = os.environ.get("TIMEOUTLAB_EPOCH_ANCHOR")
    if anchor is None:
        return time.time()
    return float(anchor) + (time.time() - float(anchor)) / scale()


def wait(milliseconds: float) -> None:
    """Wait an emulated number of milliseconds."""
    end = time.monotonic() + milliseconds / 1000 * scale()
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, _SLICE_SECONDS))


def unexpired(item: dict | None) -> bool:
    """A DynamoDB item whose ``ttl`` has not passed. DynamoDB deletes expired items late (up to
    days after), so readers must check the ttl themselves."""
    return item is not None and int(item.get("ttl", 0)) > now()
