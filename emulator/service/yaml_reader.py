"""``serverless.yml`` (and YAML files it reads) parsed as the Serverless Framework parses them.

Serverless v3 reads YAML with js-yaml 4: ``yaml.load(content, {schema: cloudformationSchema})``
(lib/configuration/read.js), the schema being js-yaml's ``DEFAULT_SCHEMA`` plus CloudFormation's
short tags (@serverless/utils/cloudformation-schema.js). This module is PyYAML's parser with that
schema's rules in place of PyYAML's YAML 1.1 ones: plain scalars resolved by ``yaml_schema``,
mapping keys made strings (a JavaScript object's keys are strings), duplicated keys refused, and
``!Ref``/``!GetAtt``/... read as their intrinsic function.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from emulator.service import yaml_schema
from emulator.service.js_text import js_string
from emulator.service.spec import ServiceError
from emulator.service.yaml_schema import JsDate, ScalarType

#: Short tags whose long form is not ``Fn::<name>`` (@serverless/utils/cloudformation-schema.js:
#: ``['Ref', 'Condition'].includes(name) ? name : `Fn::${name}```; https://docs.aws.amazon.com/
#: AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-conditions.html).
_BARE_TAGS = frozenset({"Ref", "Condition"})


class ServerlessYamlLoader(yaml.SafeLoader):
    """A PyYAML loader that reads YAML as Serverless's js-yaml ``cloudformationSchema`` does.

    Plain scalars: ``yaml_schema.scalar_type``. Mapping keys: strings, as ``String(key)`` writes
    them (``1`` -> ``"1"``, ``null`` -> ``"null"``). A key given twice in one mapping is an error
    ("duplicated mapping key", js-yaml lib/loader.js storeMappingPair), except over a key a merge
    ``<<`` brought in."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """The tag of a node: a plain scalar's by js-yaml's DEFAULT_SCHEMA, others as PyYAML."""
        if kind is yaml.ScalarNode and implicit[0]:
            return yaml_schema.scalar_type(value).value
        return super().resolve(kind, value, implicit)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping with string keys; ``<<`` merged (explicit keys win, then the first merged
        mapping, as in js-yaml and YAML's merge key: https://yaml.org/type/merge.html)."""
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            if key_node.tag == ScalarType.MERGE.value:
                continue
            key = _key_text(self.construct_object(key_node, deep=True))
            if not isinstance(key, Hashable):
                continue  # refused below
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicated mapping key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        self.flatten_mapping(node)  # merged pairs first, so the mapping's own pairs win
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _key_text(self.construct_object(key_node, deep=True))
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def _key_text(key: Any) -> Any:
    """A mapping key as a JavaScript object's key: ``String(key)`` for a scalar (a date as its
    ISO form, which is what it reads as in a template); other keys unchanged."""
    if key is None:
        return "null"
    if isinstance(key, JsDate):
        return key.iso()
    text = js_string(key)
    return key if text is None else text


def _bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return yaml_schema.construct_bool(loader.construct_scalar(node))


def _int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | float:
    return yaml_schema.construct_int(loader.construct_scalar(node))


def _float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | float:
    return yaml_schema.construct_float(loader.construct_scalar(node))


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> JsDate:
    return yaml_schema.construct_timestamp(loader.construct_scalar(node))


def _merge_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    """``<<`` anywhere but a mapping key is its text (js-yaml's merge type has no constructor)."""
    return str(loader.construct_scalar(node))


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    """``!Name value`` as ``{"Fn::Name": value}`` (``!Ref``: ``{"Ref": ...}``; ``!GetAtt a.b``:
    ``{"Fn::GetAtt": ["a", "b"]}``), https://docs.aws.amazon.com/AWSCloudFormation/latest/
    UserGuide/intrinsic-function-reference.html."""
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = suffix if suffix in _BARE_TAGS else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


ServerlessYamlLoader.add_constructor(ScalarType.BOOL.value, _bool)
ServerlessYamlLoader.add_constructor(ScalarType.INT.value, _int)
ServerlessYamlLoader.add_constructor(ScalarType.FLOAT.value, _float)
ServerlessYamlLoader.add_constructor(ScalarType.TIMESTAMP.value, _timestamp)
ServerlessYamlLoader.add_constructor(ScalarType.MERGE.value, _merge_text)
ServerlessYamlLoader.add_multi_constructor("!", _cfn_tag)


def read_yaml(path: Path, name: str) -> Any:
    """The YAML document at ``path``, read as Serverless reads it. Raises ServiceError naming
    ``name`` when it cannot be read or parsed (duplicated keys included)."""
    try:
        return yaml.load(path.read_text(), Loader=ServerlessYamlLoader)
    except OSError as exc:
        raise ServiceError(f"cannot read {name}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ServiceError(f"{name} is not valid YAML: {exc}") from exc
