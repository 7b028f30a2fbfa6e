"""Plain YAML scalars read as the Serverless Framework reads them: js-yaml 4's ``DEFAULT_SCHEMA``.

Serverless v3 parses ``serverless.yml`` with ``yaml.load(content, {schema: cloudformationSchema})``
(lib/configuration/read.js), ``cloudformationSchema`` being js-yaml's ``DEFAULT_SCHEMA`` extended
with CloudFormation's short tags (@serverless/utils/cloudformation-schema.js). ``DEFAULT_SCHEMA``
is the YAML 1.2 core schema (null, bool, int, float: https://yaml.org/spec/1.2.2/#1032-tag-
resolution) as js-yaml implements it, plus YAML 1.1's ``timestamp`` and merge key ``<<`` (js-yaml
lib/schema/default.js, lib/type/*.js; https://github.com/nodeca/js-yaml). A plain scalar takes
the first of these types that accepts it, in that order; else it is a string. PyYAML, which
timeoutlab reads YAML with, follows YAML 1.1 instead (``01234`` octal, ``1:30`` sexagesimal,
``1_000`` a number, ``0o17`` a string), so these rules replace its resolvers.

Numbers are JavaScript numbers (IEEE doubles): a whole number within 2^53 is an ``int`` here and
any other number a ``float`` (``12345678901234567890`` is ``1.2345678901234567e19``, written by
``js_text.js_string`` as JavaScript writes it, ``12345678901234567000``). A timestamp is a
``JsDate``, a JavaScript ``Date``: what reaches CloudFormation is its JSON,
``2024-01-01T00:00:00.000Z``.

Pure rules: nothing here reads a clock or a file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum


class ScalarType(Enum):
    """The type a plain scalar resolves to, as its YAML tag."""

    NULL = "tag:yaml.org,2002:null"
    BOOL = "tag:yaml.org,2002:bool"
    INT = "tag:yaml.org,2002:int"
    FLOAT = "tag:yaml.org,2002:float"
    TIMESTAMP = "tag:yaml.org,2002:timestamp"
    MERGE = "tag:yaml.org,2002:merge"
    STR = "tag:yaml.org,2002:str"


#: JavaScript's largest exact whole number, 2^53 (Number.MAX_SAFE_INTEGER + 1): whole numbers up
#: to it are ``int`` here (https://tc39.es/ecma262/#sec-number.max_safe_integer).
JS_EXACT_INTEGER = 2**53

#: lib/type/null.js: ``~``, ``null``, ``Null``, ``NULL`` and the empty scalar.
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
#: lib/type/bool.js: the YAML 1.2 core schema's booleans only (``yes``/``on`` are strings).
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
#: lib/type/int.js: an optional sign, then ``0``, ``0b``+binary, ``0x``+hex, ``0o``+octal digits,
#: or decimal digits (leading zeros allowed: ``01234`` is 1234); no ``_``, no ``0X``.
_INT = re.compile(r"[-+]?(?:0b[01]+|0x[0-9a-fA-F]+|0o[0-7]+|[0-9]+)")
_RADIX = {"b": 2, "x": 16, "o": 8}
#: lib/type/float.js YAML_FLOAT_PATTERN (``.5`` is a float, ``+.5`` and ``1_0.5`` are strings).
_FLOAT = re.compile(
    r"[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?"
    r"|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)"
    r"|\.(?:nan|NaN|NAN)"
)
_FLOAT_SPECIAL = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
#: lib/type/timestamp.js YAML_DATE_REGEXP and YAML_TIMESTAMP_REGEXP (YAML 1.1's timestamp,
#: https://yaml.org/type/timestamp.html).
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9][0-9]?)-([0-9][0-9]?)"
    r"(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?"
    r"(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9]{2}))?))?"
)

_MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class JsDate:
    """A JavaScript ``Date``: ``epoch_ms`` milliseconds since 1970-01-01T00:00:00Z (UTC)."""

    epoch_ms: int

    def iso(self) -> str:
        """``Date.prototype.toISOString`` (and ``toJSON``, hence the JSON of a template):
        ``YYYY-MM-DDTHH:mm:ss.sssZ``, a year outside 0..9999 as ``±YYYYYY``
        (https://tc39.es/ecma262/#sec-date.prototype.toisostring)."""
        days, ms = divmod(self.epoch_ms, _MS_PER_DAY)
        year, month, day = _civil_from_days(days)
        seconds, millis = divmod(ms, 1000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        if 0 <= year <= 9999:
            year_text = f"{year:04d}"
        else:
            year_text = f"{'-' if year < 0 else '+'}{abs(year):06d}"
        clock = f"{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}"
        return f"{year_text}-{month:02d}-{day:02d}T{clock}Z"

    def __str__(self) -> str:
        return self.iso()


def scalar_type(text: str) -> ScalarType:
    """The type js-yaml's DEFAULT_SCHEMA gives the plain (unquoted) scalar ``text``: the first
    of null, bool, int, float, timestamp, merge that accepts it, else STR. An int or float whose
    value is not a finite JavaScript number (``1e400``, 400 digits) is a string, as in js-yaml."""
    if text in _NULL:
        return ScalarType.NULL
    if text in _TRUE or text in _FALSE:
        return ScalarType.BOOL
    if _INT.fullmatch(text) and math.isfinite(_parse_int(text)):
        return ScalarType.INT
    if _FLOAT.fullmatch(text) and (
        math.isfinite(_parse_float(text)) or _FLOAT_SPECIAL.fullmatch(text)
    ):
        return ScalarType.FLOAT
    if _DATE.fullmatch(text) or _TIMESTAMP.fullmatch(text):
        return ScalarType.TIMESTAMP
    if text == "<<":
        return ScalarType.MERGE
    return ScalarType.STR


def construct_bool(text: str) -> bool:
    """A scalar of type BOOL as its value."""
    return text in _TRUE


def construct_int(text: str) -> int | float:
    """A scalar of type INT as the JavaScript number ``parseInt`` gives (lib/type/int.js):
    ``0x1F`` -> 31, ``0o17`` -> 15, ``01234`` -> 1234, ``-0`` -> 0; beyond 2^53, the nearest
    double. Raises ValueError for text that is not of type INT."""
    return js_number(_parse_int(text))


def construct_float(text: str) -> int | float:
    """A scalar of type FLOAT as the JavaScript number it is (``0.1e1`` -> 1, ``.inf``,
    ``.NaN``). Raises ValueError for text that is not of type FLOAT."""
    return js_number(_parse_float(text))


def construct_timestamp(text: str) -> JsDate:
    """A scalar of type TIMESTAMP as the ``Date`` js-yaml makes (lib/type/timestamp.js): UTC
    unless an offset is given, milliseconds from the first three fraction digits, and fields out
    of range carried over as ``Date.UTC`` does (``2024-02-30`` is 2024-03-01, a year 0..99 is
    1900 + year: https://tc39.es/ecma262/#sec-date.utc). Raises ValueError for text that is not
    of type TIMESTAMP."""
    found = _DATE.fullmatch(text) or _TIMESTAMP.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a YAML timestamp")
    groups = found.groups()
    year, month, day = int(groups[0]), int(groups[1]) - 1, int(groups[2])
    if len(groups) == 3:
        return JsDate(_date_utc(year, month, day))
    hour, minute, second = int(groups[3]), int(groups[4]), int(groups[5])
    millis = int((groups[6] or "")[:3].ljust(3, "0"))
    epoch_ms = _date_utc(year, month, day, hour, minute, second, millis)
    if groups[8]:  # an offset: the local time given minus the offset is UTC
        delta = (int(groups[9]) * 60 + int(groups[10] or 0)) * 60_000
        epoch_ms -= delta if groups[8] == "+" else -delta
    return JsDate(epoch_ms)


def js_number(value: int | float) -> int | float:
    """``value`` as a JavaScript number: a double, kept as an ``int`` when it is whole and within
    2^53 (so ``1.0`` is ``1`` and ``-0.0`` is ``0``), else a ``float``. Raises OverflowError for
    an int beyond the largest double."""
    number = float(value)
    if math.isfinite(number) and number == int(number) and abs(number) <= JS_EXACT_INTEGER:
        return int(number)
    return number


def _parse_int(text: str) -> float:
    """``parseYamlInteger`` as a double (``inf`` beyond the largest double)."""
    sign = -1 if text[0] == "-" else 1
    digits = text[1:] if text[0] in "+-" else text
    base = _RADIX.get(digits[1:2], 10) if digits[:1] == "0" else 10
    whole = int(digits[2:] if base != 10 else digits, base)
    try:
        return float(sign * whole)
    except OverflowError:
        return math.inf


def _parse_float(text: str) -> float:
    """``constructYamlFloat``: ``.inf``/``.nan`` in any case, else ``parseFloat``."""
    lowered = text.lower()
    sign = -1.0 if lowered[0] == "-" else 1.0
    body = lowered[1:] if lowered[0] in "+-" else lowered
    if body == ".inf":
        return sign * math.inf
    if body == ".nan":
        return math.nan
    return sign * float(body)


def _date_utc(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    millis: int = 0,
) -> int:
    """``Date.UTC(year, month, day, ...)`` (``month`` from 0) in milliseconds, carrying fields
    out of range into the next larger one (https://tc39.es/ecma262/#sec-date.utc, MakeDay)."""
    if 0 <= year <= 99:
        year += 1900
    year += month // 12
    month %= 12
    days = _days_from_civil(year, month + 1, 1) + day - 1
    return days * _MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
    Low-Level Date Algorithms": https://howardhinnant.github.io/date_algorithms.html)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """The proleptic Gregorian (year, month, day) ``days`` after 1970-01-01 (same source)."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day
