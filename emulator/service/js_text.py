"""How the Serverless Framework (Node.js) turns a YAML scalar into text: JavaScript's ``String()``.

Serverless v3 coerces a non-string scalar to a string in two places: a variable inside a longer
string (``coerceString`` in lib/configuration/variables/resolve.js, ``type/string/coerce``), and
schema validation, which runs Ajv with ``coerceTypes: 'array'`` (lib/classes/config-schema-
handler/resolve-ajv-validate.js), so ``DEBUG: true`` in ``environment`` reaches CloudFormation as
``"true"`` and ``PORT: 8080`` as ``"8080"`` (Ajv, "Coercion rules": https://ajv.js.org/
coercion.html). Python's ``str()`` says ``True``, ``None`` and ``1.0`` instead.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

#: JavaScript writes a number in exponent form below 1e-6 and from 1e21 up (ECMAScript,
#: Number::toString: https://tc39.es/ecma262/#sec-numeric-types-number-tostring).
_POSITIONAL = (1e-6, 1e21)
_EXPONENT = re.compile(r"e([+-])0*(\d)")


def js_string(value: object) -> str | None:
    """``value`` as JavaScript's ``String()`` writes it, for a string, boolean or number:
    ``True`` -> ``"true"``, ``1`` and ``1.0`` -> ``"1"``, ``1.5`` -> ``"1.5"``, ``1e-7`` ->
    ``"1e-7"``. None for what has no string form in Serverless (null, a mapping, a list)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value)
    return None


def _js_number(number: float) -> str:
    """A float as JavaScript writes it (the shortest digits that round-trip, as Python's repr)."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    if _POSITIONAL[0] <= abs(number) < _POSITIONAL[1]:
        text = format(Decimal(repr(number)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    # Out of that range Python's repr is in exponent form too, with a padded exponent.
    return _EXPONENT.sub(r"e\1\2", repr(number))
