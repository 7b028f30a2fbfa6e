"""A function's environment variables as Lambda gets them from ``serverless.yml``.

Serverless v3 merges ``provider.environment`` and ``functions.<key>.environment`` (the function's
win: ``Object.assign({}, provider.environment, functionObject.environment)`` in lib/plugins/aws/
package/compile/functions.js), coerces booleans and numbers to strings (``js_text``), and strips
every ``null`` from the CloudFormation template before deploying, so a variable set to null (``~``,
``${env:UNSET, null}``) is not set at all, and a function's null unsets the provider's variable:
"Serverless Framework clear all null values from the CF template" (github.com/serverless/
serverless/issues/10279, fixed by lib/plugins/aws/package/lib/strip-null-props-from-template-
resources.js; docs: https://www.serverless.com/framework/docs/providers/aws/guide/variables,
"end with `, null`, if missing value at the variable source should be resolved with `null`").
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.service.js_text import js_string
from emulator.service.spec import ServiceError
from emulator.service.yaml_schema import JsDate


@dataclass(frozen=True)
class DeclaredEnvironment:
    """One ``environment`` mapping of ``serverless.yml``, its values as Lambda would get them.

    ``values``: variable name -> its string, or None for a null (the variable is not set).
    ``intrinsic``: names whose value is a CloudFormation intrinsic function (``!Ref``,
    ``Fn::GetAtt``, ...), which CloudFormation resolves at deploy and timeoutlab does not: those
    variables are left unset and their key paths warned as not modelled."""

    values: dict[str, str | None]
    intrinsic: tuple[str, ...] = ()
    #: Names whose value was an unquoted date (a YAML timestamp), now its ISO form: worth a
    #: warning, since the text written is not what Lambda gets.
    dates: tuple[str, ...] = ()


def declared_environment(declared: object, where: str) -> DeclaredEnvironment:
    """``declared`` (an ``environment`` mapping, or None) read at ``where`` (its key path, such as
    ``serverless.yml: provider.environment``). Raises ServiceError, naming the variable's key
    path, for a value that is a mapping or a list (other than an intrinsic function): Lambda's
    ``Environment.Variables`` is a map of strings (https://docs.aws.amazon.com/lambda/latest/api/
    API_Environment.html): Serverless's schema (``awsLambdaEnvironment`` in lib/plugins/aws/
    provider.js) warns of it and CloudFormation fails the deployment. A date (``2024-01-01``,
    a YAML timestamp) becomes its ISO form, as Serverless deploys it, with a warning."""
    if declared is None:
        return DeclaredEnvironment({})
    if not isinstance(declared, dict):
        raise ServiceError(f"{where} must be a mapping of variable names to values")
    values: dict[str, str | None] = {}
    intrinsic: list[str] = []
    dates: list[str] = []
    for name, value in declared.items():
        name = str(name)
        if _is_intrinsic(value):
            intrinsic.append(name)
            values[name] = None
            continue
        if value is None:
            values[name] = None
            continue
        if isinstance(value, JsDate):
            # A plain `2024-01-01` is a timestamp to js-yaml, a JavaScript Date, which reaches
            # CloudFormation as its JSON: Serverless 3.40 packages `DV: 2024-01-01` as
            # "DV": "2024-01-01T00:00:00.000Z" (checked with `serverless package`), unwarned.
            values[name] = value.iso()
            dates.append(name)
            continue
        text = js_string(value)
        if text is None:
            kind = "a mapping" if isinstance(value, dict) else "a list"
            raise ServiceError(
                f"{where}.{name}: an environment variable is a string, number or boolean; got "
                f"{kind} (Lambda takes only strings)"
            )
        values[name] = text
    return DeclaredEnvironment(values, tuple(intrinsic), tuple(dates))


def function_environment(
    provider: DeclaredEnvironment, function: DeclaredEnvironment
) -> dict[str, str]:
    """The variables a function gets: its own over the provider's, nulls (and intrinsic
    functions) left out."""
    merged = {**provider.values, **function.values}
    return {name: value for name, value in merged.items() if value is not None}


def _is_intrinsic(value: object) -> bool:
    """A one-key mapping ``Ref`` or ``Fn::*``: a CloudFormation intrinsic function
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-
    reference.html)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (key,) = value
    return key == "Ref" or str(key).startswith("Fn::")
