"""Dollars from measured counts: what a run used, priced at AWS's published rates.

The rates live in one data file, ``prices.toml`` beside this module, each with its unit, source
and date, so a price change is a one-line edit and every figure says where it comes from. Nothing
here estimates usage: the counts come from the emulator's ``/_emulator/metrics``.
"""

from __future__ import annotations

import contextlib
import math
import tomllib
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

BUNDLED = Path(__file__).with_name("prices.toml")
CURRENCY = "USD"


class PricingError(ValueError):
    """A prices file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Usage:
    """What a run used, as the emulator measured it."""

    rest_api_requests: float = 0
    http_api_requests: float = 0  # requests to HTTP APIs (each up to 512 KB billed as one)
    websocket_message_units: float = 0  # messages both ways, in 32 KB units
    websocket_connection_minutes: float = 0
    lambda_requests: float = 0
    lambda_gb_seconds: float = 0
    # The part of lambda_gb_seconds burnt after the gateway gave up: shown, not priced twice.
    lambda_wasted_gb_seconds: float = 0
    dynamodb_read_units: float = 0
    dynamodb_write_units: float = 0
    s3_tier1_requests: float = 0  # PUT, COPY, POST, LIST
    s3_tier2_requests: float = 0  # GET and the rest

    @classmethod
    def from_metrics(cls, after: dict, before: dict | None = None) -> Usage:
        """The usage between two ``/_emulator/metrics`` snapshots (``before=None``: since zero).

        Keys missing from older snapshots count as 0. Wasted GB-seconds are the share of each
        function's GB-seconds that its wasted ms are of its billed ms, over the interval.
        """
        before = before or {}

        def delta(*keys: str) -> float:
            return _number(after, keys) - _number(before, keys)

        ws_units = delta("websocket", "message_units")
        if _dig(after, ("websocket", "message_units")) is None:  # before message units existed
            ws_units = delta("websocket", "messages_in") + delta("websocket", "messages_out")
        functions = set(_dig(after, ("lambda", "functions")) or {})
        functions |= set(_dig(before, ("lambda", "functions")) or {})
        requests = gb_seconds = wasted = 0.0
        for name in functions:
            requests += delta("lambda", "functions", name, "invocations")
            gb = delta("lambda", "functions", name, "gb_seconds")
            billed_ms = delta("lambda", "functions", name, "billed_ms")
            wasted_ms = delta("lambda", "functions", name, "wasted_ms")
            gb_seconds += gb
            wasted += gb * wasted_ms / billed_ms if billed_ms else 0.0
        return cls(
            rest_api_requests=delta("rest", "requests"),
            http_api_requests=delta("http_api", "requests"),
            websocket_message_units=ws_units,
            websocket_connection_minutes=delta("websocket", "connection_minutes"),
            lambda_requests=requests,
            lambda_gb_seconds=gb_seconds,
            lambda_wasted_gb_seconds=wasted,
            dynamodb_read_units=delta("backend", "dynamodb", "read_request_units"),
            dynamodb_write_units=delta("backend", "dynamodb", "write_request_units"),
            s3_tier1_requests=delta("backend", "s3", "tier1_requests"),
            s3_tier2_requests=delta("backend", "s3", "tier2_requests"),
        )

    def __add__(self, other: object) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def scaled(self, factor: float) -> Usage:
        """Every count times ``factor``: per report, per million reports, ..."""
        return Usage(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def as_dict(self) -> dict:
        return asdict(self)


#: The Usage fields that have a price; wasted GB-seconds are inside lambda_gb_seconds already.
PRICED = tuple(f.name for f in fields(Usage) if f.name != "lambda_wasted_gb_seconds")
TOP_LEVEL = ("region", "currency", "checked", "rates")
RATE_FIELDS = ("usd", "per", "unit", "source", "checked")


@dataclass(frozen=True)
class Quote:
    """One rate as published: ``usd`` per ``per`` units, where and when it was read."""

    usd: float
    per: float
    unit: str
    source: str
    checked: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Prices:
    """Unit prices in USD per single unit, plus where they come from."""

    rest_api_requests: float
    http_api_requests: float
    websocket_message_units: float
    websocket_connection_minutes: float
    lambda_requests: float
    lambda_gb_seconds: float
    dynamodb_read_units: float
    dynamodb_write_units: float
    s3_tier1_requests: float
    s3_tier2_requests: float
    region: str
    checked: str
    sources: dict[str, Quote]

    def as_dict(self) -> dict:
        return {
            "region": self.region,
            "currency": CURRENCY,
            "checked": self.checked,
            "rates": {
                name: {"usd_per_unit": getattr(self, name), **self.sources[name].as_dict()}
                for name in PRICED
            },
        }


def load_prices(override: Path | str | None = None) -> Prices:
    """The bundled rates, with those that ``override`` (a TOML file of the same layout) names."""
    data = _read(BUNDLED)
    region = _text(data, "region", BUNDLED)
    checked = _date(data.get("checked"), "checked", BUNDLED)
    quotes = _quotes(data, BUNDLED, checked, base=None)
    if missing := [name for name in PRICED if name not in quotes]:
        raise PricingError(f"{BUNDLED}: rates.{missing[0]}: missing")
    if override is not None:
        path = Path(override)
        extra = _read(path)
        region = _text(extra, "region", path) if "region" in extra else region
        stamp = _date(extra["checked"], "checked", path) if "checked" in extra else "unknown"
        quotes |= _quotes(extra, path, stamp, base=quotes)
    return Prices(
        **{name: quotes[name].usd / quotes[name].per for name in PRICED},
        region=region,
        checked=checked,
        sources={name: quotes[name] for name in PRICED},
    )


@dataclass(frozen=True)
class Bill:
    """What a usage costs, item by item, in USD."""

    items: dict[str, float]  # USD per priced item, keyed like the Usage fields
    wasted_usd: float  # what lambda_wasted_gb_seconds cost, already inside the Lambda item

    @property
    def total(self) -> float:
        return sum(self.items.values())

    def per_million(self, reports: int) -> float:
        """Total per million reports, the figure that compares strategies at any run length."""
        return self.total / reports * 1e6 if reports else 0.0

    def wasted_per_million(self, reports: int) -> float:
        """The wasted part of ``per_million``."""
        return self.wasted_usd / reports * 1e6 if reports else 0.0

    def as_dict(self) -> dict:
        return {"items": dict(self.items), "wasted_usd": self.wasted_usd, "total": self.total}


def price(usage: Usage, prices: Prices) -> Bill:
    """Each measured count times its unit price."""
    return Bill(
        items={name: getattr(usage, name) * getattr(prices, name) for name in PRICED},
        wasted_usd=usage.lambda_wasted_gb_seconds * prices.lambda_gb_seconds,
    )


# -- reading -----------------------------------------------------------------------------------


def _dig(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _number(data: dict, keys: tuple[str, ...]) -> float:
    value = _dig(data, keys)
    return float(value) if isinstance(value, int | float) else 0.0


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PricingError(f"{path}: cannot read: {error}") from None


def _quotes(
    data: dict, path: Path, checked: str, base: dict[str, Quote] | None
) -> dict[str, Quote]:
    """The ``[rates.*]`` of one file; with a ``base``, a rate needs only ``usd``.

    An overridden rate keeps the bundled ``per`` and ``unit`` unless it gives its own; its source
    is the overriding file unless it names one, since the number no longer comes from AWS's page.
    """
    for key in data:
        if key not in TOP_LEVEL:
            raise PricingError(f"{path}: {key}: unknown key (known: {', '.join(TOP_LEVEL)})")
    if data.get("currency", CURRENCY) != CURRENCY:
        raise PricingError(f"{path}: currency: only {CURRENCY} is supported")
    rates = data.get("rates", {})
    if not isinstance(rates, dict):
        raise PricingError(f"{path}: rates: must be a table of rates")
    quotes = {}
    for name, rate in rates.items():
        key = f"rates.{name}"
        if name not in PRICED:
            raise PricingError(f"{path}: {key}: unknown rate (known: {', '.join(PRICED)})")
        if not isinstance(rate, dict):
            raise PricingError(f"{path}: {key}: must be a table with usd, per, unit, source")
        for field in rate:
            if field not in RATE_FIELDS:
                raise PricingError(f"{path}: {key}.{field}: unknown field")
        old = (base or {}).get(name)
        usd = _amount(rate.get("usd"), f"{key}.usd", path, positive=False)
        per = _amount(rate.get("per", old.per if old else None), f"{key}.per", path, positive=True)
        unit = _text(rate, "unit", path, key, old.unit if old else None)
        source = _text(rate, "source", path, key, str(path) if old else None)
        stamp = _date(rate["checked"], f"{key}.checked", path) if "checked" in rate else checked
        quotes[name] = Quote(usd=usd, per=per, unit=unit, source=source, checked=stamp)
    return quotes


def _amount(value: Any, key: str, path: Path, *, positive: bool) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if value is None:
        raise PricingError(f"{path}: {key}: missing")
    if not ok or value < 0 or (positive and value == 0):
        wanted = "a number > 0" if positive else "a number >= 0"
        raise PricingError(f"{path}: {key}: must be {wanted}, not {value!r}")
    return float(value)


def _text(data: dict, field: str, path: Path, table: str = "", default: str | None = None) -> str:
    value = data.get(field, default)
    name = f"{table}.{field}" if table else field
    if value is None:
        raise PricingError(f"{path}: {name}: missing")
    if not isinstance(value, str) or not value:
        raise PricingError(f"{path}: {name}: must be a non-empty string, not {value!r}")
    return value


def _date(value: Any, key: str, path: Path) -> str:
    """A TOML date (``2026-11-25``) or an ISO date string, as ``YYYY-MM-DD``."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value)
    if type(value) is not date:
        raise PricingError(f"{path}: {key}: must be a date such as 2026-11-25, not {value!r}")
    return value.isoformat()
