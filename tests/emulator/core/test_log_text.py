"""``printable``: client text made safe for one log line."""

from emulator.core.log_text import MAX_LOGGED_CHARS, printable


def test_control_characters_are_escaped_so_a_line_cannot_split_or_forge_another():
    text = printable("GET /dev/x\r\n2026-11-30 INFO forged\x00\x1b[31m\x7f\x85\u2028")
    assert text == "GET /dev/x\\r\\n2026-11-30 INFO forged\\x00\\x1b[31m\\x7f\\x85\\u2028"
    assert text.isprintable()


def test_ordinary_text_is_unchanged():
    assert printable("POST /dev/reports é ü 東京 \\ ok") == "POST /dev/reports é ü 東京 \\ ok"


def test_bytes_show_every_byte_and_anything_else_its_str():
    assert printable(b"ab\xff\r") == "ab\xff\\r"
    assert printable(ValueError("bad\nvalue")) == "bad\\nvalue"
    assert printable(None) == "None"


def test_long_values_are_cut_and_counted():
    text = printable("a" * (MAX_LOGGED_CHARS + 10))
    assert text == "a" * MAX_LOGGED_CHARS + "...(10 more)"
    assert printable("abcdef", limit=3) == "abc...(3 more)"
