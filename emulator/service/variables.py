"""Reading ``serverless.yml``: CloudFormation short tags, and the Serverless Framework's variables
(``${self:...}``, ``${opt:stage, 'dev'}``, ``${sls:stage}``, ``${aws:region}``,
``${aws:accountId}``, ``${env:NAME, default}``), resolved innermost first, with fallbacks."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from emulator.core.events import ACCOUNT_ID
from emulator.service.spec import ServiceError

VARIABLE = re.compile(r"\$\{([^${}]+)\}")


def read_config(path: Path, *, stage: str | None = None, region: str | None = None) -> dict:
    """``serverless.yml`` at ``path`` as a mapping, every variable resolved (``stage`` and
    ``region`` as ``--stage``/``--region`` give them). Raises ServiceError when the file cannot
    be read, is not YAML, is not a mapping, or uses a variable that has no value."""
    try:
        raw = yaml.load(path.read_text(), Loader=_CfnLoader)
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ServiceError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ServiceError(f"{path} must be a YAML mapping")
    options = {k: v for k, v in {"stage": stage, "region": region}.items() if v}
    return _Resolver(raw, options).resolve(raw)


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...) as data."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


class _Resolver:
    """Serverless Framework variables, resolved innermost first, with fallbacks."""

    def __init__(self, raw: dict, options: dict[str, str]) -> None:
        self.raw = raw
        self.options = options
        self._resolving: set[str] = set()

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str):
            return self._resolve_string(value)
        return value

    def _resolve_string(self, text: str) -> Any:
        for _ in range(50):
            found = VARIABLE.search(text)
            if found is None:
                return text
            value = self._lookup(found.group(1))
            if found.group(0) == text:  # the whole string is one variable: keep the value's type
                if not isinstance(value, str) or VARIABLE.search(value) is None:
                    return value
                text = value
                continue
            text = text[: found.start()] + str(value) + text[found.end() :]
        raise ServiceError(f"variables nest too deeply in {text!r}")

    def _lookup(self, expression: str) -> Any:
        reference, _, fallback = expression.partition(",")
        reference, fallback = reference.strip(), fallback.strip()
        source, _, address = reference.partition(":")
        value = self._source(source.strip(), address.strip(), expression)
        if value is None:
            if not fallback:
                raise ServiceError(f"variable ${{{expression}}} has no value and no fallback")
            value = self._literal(fallback)
        return value

    @staticmethod
    def _literal(text: str) -> Any:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text

    def _source(self, source: str, address: str, expression: str) -> Any:
        if source == "self":
            return self._self(address)
        if source == "opt":
            return self.options.get(address)
        if source == "sls":
            if address == "stage":
                return self._stage()
            if address == "instanceId":
                return "timeoutlab"
            return None
        if source == "env":
            return os.environ.get(address)
        if source == "aws":
            return {"region": self._region(), "accountId": ACCOUNT_ID}.get(address)
        raise ServiceError(f"unsupported variable source in ${{{expression}}}")

    def _self(self, address: str) -> Any:
        if address in self._resolving:
            raise ServiceError(f"variable ${{self:{address}}} refers to itself")
        node: Any = self.raw
        for part in address.split(".") if address else []:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        self._resolving.add(address)
        try:
            return self.resolve(node)
        finally:
            self._resolving.discard(address)

    def _stage(self) -> str:
        return str(self.options.get("stage") or self._self("provider.stage") or "dev")

    def _region(self) -> str:
        return str(self.options.get("region") or self._self("provider.region") or "us-east-1")
