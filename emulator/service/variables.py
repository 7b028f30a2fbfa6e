"""Reading ``serverless.yml``: CloudFormation short tags, and the Serverless Framework's variables,
resolved innermost first, each with its fallbacks (Serverless v3, "Variables":
https://www.serverless.com/framework/docs/providers/aws/guide/variables).

Sources resolved here: ``self:``, ``opt:`` (``stage``, ``region``), ``sls:`` (``stage``,
``instanceId``), ``env:``, ``aws:`` (``region``, ``accountId``), ``param:`` (``--param``, then
``params.<stage>``, then ``params.default``) and ``file(path)`` / ``file(path):key`` (a YAML or
JSON file, or text, beside ``serverless.yml``). Sources that read AWS (``ssm:``, ``cf:``, ``s3:``)
and sources of plugins are not reached: with a fallback the fallback is used (warned once per
variable); without one, loading fails with a line naming the key and how to give a value.
Every error names the file and the dotted key path (``provider.environment.TABLE``) that holds
the variable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.core.events import ACCOUNT_ID
from emulator.service.js_text import js_string
from emulator.service.spec import ServiceError
from emulator.service.yaml_reader import read_yaml
from emulator.service.yaml_schema import JsDate

log = logging.getLogger("timeoutlab")

VARIABLE = re.compile(r"\$\{([^${}]+)\}")

#: ``name(params):address``, the form of a variable source; ``(params)`` and ``:address`` are
#: optional for the first source of a variable, one of them is needed for a fallback source.
_REFERENCE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)(?:\((.*)\))?(?::(.*))?", re.DOTALL)

#: Sources that read AWS at deploy time, which timeoutlab does not reach (Serverless v3,
#: "Current variable sources": https://www.serverless.com/framework/docs/providers/aws/guide/
#: variables#current-variable-sources).
CLOUD_SOURCES: Mapping[str, str] = {
    "ssm": "the SSM Parameter Store",
    "cf": "CloudFormation stack outputs",
    "s3": "S3 objects",
}

#: Files ``${file(...)}`` runs as JavaScript in Serverless (lib/configuration/variables/sources/
#: file.js): timeoutlab runs no JavaScript to read a configuration.
JS_SUFFIXES = frozenset({".js", ".cjs", ".mjs", ".ts"})

_SUPPORTED = "self, opt, sls, env, aws, param, file"

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_INTEGER = re.compile(r"[-+]?\d+")


def read_config(
    path: Path,
    *,
    stage: str | None = None,
    region: str | None = None,
    params: Mapping[str, str] | None = None,
) -> dict:
    """``serverless.yml`` at ``path`` as a mapping, every variable resolved (``stage`` and
    ``region`` as ``--stage``/``--region`` give them, ``params`` as ``--param NAME=value``
    does). Raises ServiceError when the file cannot be read, is not YAML, is not a mapping, or
    uses a variable that has no value (naming the key path that holds it)."""
    raw = read_yaml(path, str(path))
    if not isinstance(raw, dict):
        raise ServiceError(f"{path} must be a YAML mapping")
    options = {k: v for k, v in {"stage": stage, "region": region}.items() if v}
    resolver = _Resolver(raw, options, dict(params or {}), path)
    return resolver.resolve(raw, ())


def param_option(text: str) -> tuple[str, str]:
    """``NAME=value`` of ``--param`` (Serverless v3: ``--param="<key>=<value>"``,
    https://www.serverless.com/framework/docs/guides/parameters) as ``(NAME, value)``; the value
    may hold ``=``, its trailing blanks are dropped. Raises argparse.ArgumentTypeError without a
    name, ``=`` and a value, as Serverless refuses it ("Encountered invalid "--param" CLI option
    value", lib/configuration/variables/sources/instance-dependent/param.js)."""
    name, equals, value = text.partition("=")
    if not equals or not name or not value:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=value")
    return name, value.rstrip()


@dataclass(frozen=True)
class _Reference:
    """One variable source: ``name(params):address``."""

    name: str
    params: tuple[str, ...]
    address: str | None

    def __str__(self) -> str:
        params = f"({', '.join(self.params)})" if self.params else ""
        address = "" if self.address is None else f":{self.address}"
        return f"{self.name}{params}{address}"


class _NoValue(Exception):
    """A source has nothing at that address (the message says why); a fallback may follow."""


class _Unreachable(Exception):
    """A source timeoutlab does not reach (AWS, a plugin's); only a fallback gives a value."""


class _Resolver:
    """Serverless Framework variables, resolved innermost first, with fallbacks."""

    def __init__(
        self, raw: dict, options: dict[str, str], params: dict[str, str], path: Path
    ) -> None:
        self.raw = raw
        self.options = options
        self.params = params
        self.file = path
        self.directory = path.parent
        #: The ``self:`` addresses being resolved, outermost first (a cycle's chain).
        self._resolving: list[str] = []
        self._warned: set[str] = set()

    def resolve(self, value: Any, path: tuple[str | int, ...]) -> Any:
        """``value`` (found at key ``path``) with every variable in it resolved."""
        if isinstance(value, dict):
            return {k: self.resolve(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str):
            return self._resolve_string(value, path)
        return value

    def _where(self, path: tuple[str | int, ...]) -> str:
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        return f"{self.file}: {dotted or '(top level)'}"

    def _resolve_string(self, text: str, path: tuple[str | int, ...]) -> Any:
        for _ in range(50):
            found = VARIABLE.search(text)
            if found is None:
                return text
            value = self._lookup(found.group(1), path)
            if found.group(0) == text:  # the whole string is one variable: keep the value's type
                if not isinstance(value, str) or VARIABLE.search(value) is None:
                    return value
                text = value
                continue
            # Inside a longer string a value is written as JavaScript's String() writes it; a
            # null, mapping or list there is an error ("String value consist of variable which
            # resolve with non-string value", lib/configuration/variables/resolve.js).
            written = js_string(value)
            if written is None:
                raise ServiceError(
                    f"{self._where(path)}: variable {found.group(0)} is part of a longer string "
                    f"but its value is {_kind(value)}, not a string, number or boolean"
                )
            text = text[: found.start()] + written + text[found.end() :]
        raise ServiceError(f"{self._where(path)}: variables nest too deeply in {text!r}")

    def _lookup(self, expression: str, path: tuple[str | int, ...]) -> Any:
        """The value of ``${expression}``: its first source with a value, else its fallbacks in
        turn (a fallback is a literal or another source: ``${opt:stage, self:provider.stage,
        'dev'}``)."""
        variable = f"${{{expression}}}"
        alternatives = _alternatives(expression)
        unreachable: _Unreachable | None = None
        missing: list[str] = []
        for index, text in enumerate(alternatives):
            reference = _reference(text, first=index == 0)
            if reference is None:
                value = _literal(text)
            else:
                try:
                    value = self._source(reference, path, variable)
                except _Unreachable as exc:
                    unreachable = unreachable or exc
                    continue
                except _NoValue as exc:
                    missing.append(str(exc))
                    continue
                if value is None:
                    continue
            if unreachable is not None and variable not in self._warned:
                self._warned.add(variable)
                log.warning(
                    "warning: %s: %s: %s; used the fallback %s",
                    self._where(path),
                    variable,
                    unreachable,
                    json.dumps(value, default=str),
                )
            return value  # a literal null fallback included: the property is left unset
        first = alternatives[0].strip()
        if unreachable is not None:
            raise ServiceError(
                f"{self._where(path)}: {variable}: {unreachable}; give it a fallback "
                f"(${{{first}, 'value'}}) or a value through ${{param:NAME}} (--param "
                f"NAME=value) or ${{env:NAME}}"
            )
        tail = "and no fallback" if len(alternatives) == 1 else "nor have its fallbacks"
        why = f" ({'; '.join(missing)})" if missing else ""
        raise ServiceError(f"{self._where(path)}: variable {variable} has no value {tail}{why}")

    def _source(self, reference: _Reference, path: tuple[str | int, ...], variable: str) -> Any:
        name, address = reference.name, (reference.address or "").strip()
        if name == "self":
            return self._self(address, path)
        if name == "opt":
            if address not in self.options:
                raise _NoValue(f"no --{address} option")
            return self.options[address]
        if name == "sls":
            if address == "stage":
                return self._stage(path)
            if address == "instanceId":
                return "timeoutlab"
            return None
        if name == "env":
            if address not in os.environ:
                raise _NoValue(f"environment variable {address} is not set")
            return os.environ[address]
        if name == "aws":
            return {"region": self._region(path), "accountId": ACCOUNT_ID}.get(address)
        if name == "param":
            return self._param(address, path)
        if name == "file":
            return self._file(reference, path, variable)
        if name in CLOUD_SOURCES:
            raise _Unreachable(
                f"{name} variables read {CLOUD_SOURCES[name]} on AWS, which timeoutlab does not "
                "reach"
            )
        raise _Unreachable(
            f"variable source {name!r} is not supported here (supported: {_SUPPORTED}; "
            f"{', '.join(CLOUD_SOURCES)} only with a fallback)"
        )

    def _self(self, address: str, path: tuple[str | int, ...]) -> Any:
        """``${self:address}`` met at key ``path``: the value at ``address``, resolved; None if
        there is none. Raises ServiceError, naming ``path`` and the chain of addresses, for a
        circular reference (Serverless refuses them too: lib/configuration/variables/resolve.js,
        "Circular reference")."""
        if address in self._resolving:
            chain = " -> ".join([*self._resolving[self._resolving.index(address) :], address])
            raise ServiceError(
                f"{self._where(path)}: variable ${{self:{address}}} is a circular reference "
                f"({chain})"
            )
        node: Any = self.raw
        parts = address.split(".") if address else []
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        self._resolving.append(address)
        try:
            return self.resolve(node, tuple(parts))
        finally:
            self._resolving.pop()

    def _param(self, name: str, path: tuple[str | int, ...]) -> Any:
        """``${param:NAME}``: ``--param NAME=value``, else ``params.<stage>.NAME``, else
        ``params.default.NAME`` (Serverless v3, "Parameters", "Inheritance and overriding":
        https://www.serverless.com/framework/docs/guides/parameters; the Dashboard's levels
        between them are not reached)."""
        if name in self.params:
            return self.params[name]
        for level in (self._stage(path), "default"):
            value = self._self(f"params.{level}.{name}", path)
            if value is not None:
                return value
        raise _NoValue(
            f"no --param {name}=..., params.{self._stage(path)}.{name} or params.default.{name}"
        )

    def _file(self, reference: _Reference, path: tuple[str | int, ...], variable: str) -> Any:
        """``${file(path)}`` (the whole file) or ``${file(path):a.b}`` (a key in it), the path
        relative to serverless.yml's folder: ``.yml``/``.yaml`` YAML, ``.json`` JSON, any other
        file its text (Serverless v3, "Reference Properties in Other Files":
        https://www.serverless.com/framework/docs/providers/aws/guide/variables#reference-
        properties-in-other-files; lib/configuration/variables/sources/file.js)."""
        if not reference.params or not reference.params[0].strip():
            raise ServiceError(f"{self._where(path)}: {variable}: file() needs a path")
        name = _unquote(reference.params[0].strip())
        target = self.directory / name
        suffix = target.suffix.lower()
        if suffix in JS_SUFFIXES:
            raise ServiceError(
                f"{self._where(path)}: {variable}: {name} is JavaScript, which timeoutlab does "
                "not run to read a configuration; put the values in a .yml or .json file"
            )
        if not target.is_file():
            raise _NoValue(f"file {name} does not exist (looked for {target})")
        if suffix in (".yml", ".yaml"):
            content = read_yaml(target, name)
        elif suffix in (".json", ".tfstate"):
            try:
                content = json.loads(target.read_text())
            except (OSError, ValueError) as exc:
                raise ServiceError(f"{self._where(path)}: {variable}: {name}: {exc}") from exc
        else:
            content = target.read_text()
        address = (reference.address or "").strip()
        for part in address.split(".") if address else []:
            if isinstance(content, dict) and part in content:
                content = content[part]
            elif isinstance(content, list) and part.isdigit() and int(part) < len(content):
                content = content[int(part)]
            else:
                raise _NoValue(f"file {name} has no key {address}")
        if content is None:
            raise _NoValue(f"{address or 'file'} in {name} is null")
        return self.resolve(content, path)

    def _stage(self, path: tuple[str | int, ...]) -> str:
        return str(self.options.get("stage") or self._self("provider.stage", path) or "dev")

    def _region(self, path: tuple[str | int, ...]) -> str:
        region = self.options.get("region") or self._self("provider.region", path)
        return str(region or "us-east-1")


def _alternatives(expression: str) -> list[str]:
    """``expression`` split at its top-level commas (not in quotes or parentheses)."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for index, char in enumerate(expression):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append(expression[start:index].strip())
            start = index + 1
    parts.append(expression[start:].strip())
    return parts


def _reference(text: str, *, first: bool) -> _Reference | None:
    """``text`` as a source reference; None for a literal (a fallback that is not
    ``name:address`` or ``name(params)``). The first part of a variable is always a source."""
    if text[:1] in "'\"":
        return None
    found = _REFERENCE.fullmatch(text)
    if found is None:
        return None if not first else _Reference(text, (), None)
    name, params, address = found.groups()
    if not first and params is None and address is None:
        return None
    return _Reference(
        name, tuple(p.strip() for p in _alternatives(params)) if params else (), address
    )


def _literal(text: str) -> Any:
    """A fallback literal as Serverless reads it (``parseLiteralSource`` in lib/configuration/
    variables/parse.js): a quoted string, ``true``, ``false``, ``null``, a number, else the text."""
    if _quoted(text):
        return text[1:-1]
    keywords: dict[str, Any] = {"true": True, "false": False, "null": None}
    if text in keywords:
        return keywords[text]
    if _NUMBER.fullmatch(text) is None:
        return text
    number = float(text)
    return int(text) if _INTEGER.fullmatch(text) else number


def _unquote(text: str) -> str:
    return text[1:-1] if _quoted(text) else text


def _quoted(text: str) -> bool:
    """Whether ``text`` is in single or double quotes."""
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""


def _kind(value: Any) -> str:
    """What a value that has no string form is, for an error message."""
    if value is None:
        return "null"
    if isinstance(value, JsDate):
        # Serverless would write `"" + date`, Date.prototype.toString in the deploying machine's
        # time zone (type/string/coerce): refused here rather than guessed.
        return (
            f"a date ({value.iso()}: an unquoted date is a YAML timestamp, which Serverless "
            "writes in the deploying machine's time zone; quote it to keep its text)"
        )
    return "a mapping" if isinstance(value, dict) else "a list"
