"""Client-supplied text made safe for one log line: control characters escaped, length capped.

Every log line that quotes something a client sent (a path, a header name or value, a parser's
message that quotes the request, a Host) passes it through ``printable`` first, so a CR or LF
cannot split the line or forge another one, a NUL or an escape sequence never reaches the
terminal raw, and a 20 KB header does not become a 20 KB line. Not an AWS rule: it is the
emulator's own log hygiene (CWE-117, improper output neutralization for logs).
"""

from __future__ import annotations

#: At most this many characters of one client value are logged; the rest is counted.
MAX_LOGGED_CHARS = 512

#: C0 controls, DEL, C1 controls and the Unicode line/paragraph separators, each escaped as
#: Python writes it (``\\r``, ``\\n``, ``\\t``, ``\\x00``, ``\\u2028``).
_ESCAPES = {
    code: ascii(chr(code))[1:-1]
    for code in (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
}


def printable(text: object, limit: int = MAX_LOGGED_CHARS) -> str:
    """``text`` (``str()`` of anything; bytes decoded as latin-1, so every byte shows) with every
    control character escaped, backslashes kept as they are, and at most ``limit`` characters,
    followed by ``...(N more)`` when it was longer. Never raises."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("latin-1")
    text = str(text)
    more = len(text) - limit
    if more > 0:
        text = text[:limit]
    escaped = text.translate(_ESCAPES)
    return f"{escaped}...({more} more)" if more > 0 else escaped
