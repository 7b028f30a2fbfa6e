import pytest

from emulator.core.media_types import matches, request_is_binary, response_is_binary


@pytest.mark.parametrize(
    ("media_type", "types", "expected"),
    [
        ("image/png", ["image/png"], True),
        ("Image/PNG; charset=binary", ["image/png"], True),
        ("image/jpeg", ["image/*"], True),
        ("application/json", ["*/*"], True),
        ("application/json", ["image/*"], False),
        ("image/png", [], False),
        (None, ["*/*"], False),
        ("nonsense", ["*/*"], False),
    ],
)
def test_media_types_match_exactly_or_by_wildcard(media_type, types, expected):
    assert matches(media_type, types) is expected


def test_a_request_is_binary_by_its_content_type():
    assert request_is_binary("application/octet-stream", ["application/octet-stream"])
    assert not request_is_binary("text/plain", ["application/octet-stream"])


def test_a_response_is_binary_by_the_first_accept_type_only():
    types = ["image/png"]
    assert response_is_binary("image/png, text/html", types)
    assert not response_is_binary("text/html, image/png", types)
    assert not response_is_binary("*/*", types)  # curl's default is not image/png
    assert not response_is_binary(None, types)
    assert response_is_binary("text/html", ["*/*"])
