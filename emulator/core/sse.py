"""Server-Sent Events framing, for the emulator's own streams (the live view).

The format is the WHATWG HTML standard's ``text/event-stream``
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
``field: value`` lines, an event ended by a blank line, a line starting with ``:`` a comment.
The report app's SSE routes frame their own events (``reportapp/jobs_api.py``): handlers carry
no emulator code.
"""

from __future__ import annotations

#: The media type of an event stream (HTML standard, section 9.2).
EVENT_STREAM = "text/event-stream"


def event(data: str, *, name: str | None = None, event_id: str | None = None) -> bytes:
    """One event: ``event:`` (``name``), ``id:`` and one ``data:`` line per line of ``data``,
    then the blank line that dispatches it, UTF-8. Raises ValueError for a name or id holding a
    line break (it would end the field early)."""
    lines = []
    for field, value in (("event", name), ("id", event_id)):
        if value is None:
            continue
        if "\n" in value or "\r" in value:
            raise ValueError(f"an SSE {field} cannot hold a line break: {value!r}")
        lines.append(f"{field}: {value}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return ("\n".join(lines) + "\n\n").encode()


def comment(text: str = "") -> bytes:
    """A comment line (ignored by the reader; keeps the connection visibly alive)."""
    return f": {' '.join(text.split())}\n\n".encode()
