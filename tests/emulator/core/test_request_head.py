"""The REST / HTTP API quota on a request's head: request line and header values, 10240 bytes."""

import json

import pytest

from emulator.core.request_head import (
    PARSER_MAX_FIELD_BYTES,
    PARSER_MAX_HEADERS,
    PARSER_MAX_LINE_BYTES,
    REQUEST_HEAD_LIMIT,
    RequestHead,
    RequestHeadTooLarge,
    check_head,
    head_too_large,
)


def head(target: str = "/dev/echo", *values: bytes) -> RequestHead:
    return RequestHead("GET", target, "HTTP/1.1", list(values))


def test_the_size_is_the_request_line_and_the_header_values_only():
    # "GET /dev/echo HTTP/1.1" is 22 bytes; names, colons and CRLFs are not counted.
    assert head("/dev/echo").size == 22
    assert head("/dev/echo", b"abc", b"", b"de").size == 22 + 5


def test_a_target_is_counted_in_the_bytes_it_was_sent_as():
    # aiohttp decodes a target's bytes with surrogateescape: a stray byte still counts as one.
    sent = b"/dev/\xc3\xa9\xff".decode("utf-8", "surrogateescape")
    assert head(sent).size == len(b"GET /dev/\xc3\xa9\xff HTTP/1.1")


def test_a_head_of_exactly_the_quota_passes_and_one_byte_more_is_refused():
    line = head().size
    check_head(head("/dev/echo", b"x" * (REQUEST_HEAD_LIMIT - line)))
    with pytest.raises(RequestHeadTooLarge) as refused:
        check_head(head("/dev/echo", b"x" * (REQUEST_HEAD_LIMIT - line + 1)))
    assert (refused.value.size, refused.value.limit) == (REQUEST_HEAD_LIMIT + 1, REQUEST_HEAD_LIMIT)
    assert refused.value.response == head_too_large()


def test_a_smaller_limit_is_honoured():
    with pytest.raises(RequestHeadTooLarge):
        check_head(head("/dev/echo", b"x" * 100), limit=100)


def test_the_answer_is_a_json_431_naming_the_quota():
    answer = head_too_large()
    assert answer.status == 431
    assert answer.header("Content-Type") == "application/json"
    assert json.loads(answer.body) == {"message": "HTTP header is larger than 10240 bytes."}


def test_the_parser_bounds_let_a_request_line_or_a_header_within_the_quota_through():
    assert PARSER_MAX_LINE_BYTES > REQUEST_HEAD_LIMIT
    assert PARSER_MAX_FIELD_BYTES > REQUEST_HEAD_LIMIT
    assert PARSER_MAX_HEADERS > 128  # aiohttp's default
