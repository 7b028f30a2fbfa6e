"""Server-Sent Events framing (emulator.core.sse), checked against the HTML standard's rules."""

import pytest

from emulator.core.sse import comment, event


def test_an_event_has_its_name_id_and_one_data_line_per_line():
    assert event('{"a":1}', name="live", event_id="7") == b'event: live\nid: 7\ndata: {"a":1}\n\n'
    assert event("one\ntwo") == b"data: one\ndata: two\n\n"
    assert event("") == b"data: \n\n"  # an empty data line still dispatches an event


@pytest.mark.parametrize("field", ["name", "event_id"])
def test_a_line_break_in_a_name_or_id_is_refused(field):
    with pytest.raises(ValueError, match="line break"):
        event("x", **{field: "a\nb"})


def test_a_comment_is_one_line_starting_with_a_colon():
    assert comment("no\nchange") == b": no change\n\n"
