"""The Lambda Invoke API on the HTTP port, for handlers that invoke other functions with boto3.

``POST /2015-03-31/functions/{name}/invocations``, SigV4-signed (``emulator.core.sigv4``), with
``X-Amz-Invocation-Type``:
``RequestResponse`` runs the function and answers with its result (``X-Amz-Function-Error`` when
it failed), ``Event`` queues it and answers 202 at once, ``DryRun`` only checks.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging

from aiohttp import web

from emulator.core import lambda_api, sigv4
from emulator.core.json_input import parse_json
from emulator.core.log_text import printable
from emulator.core.origins import HostPolicy, host_of
from emulator.core.responses import JSON, LAMBDA_SYNC_PAYLOAD_LIMIT, HttpResponse
from emulator.gateway.http import BodyTooLarge, read_body, to_aiohttp
from emulator.runtime.async_invoker import AsyncInvoker
from emulator.runtime.invocation import Runtime, Throttled

log = logging.getLogger("timeoutlab.lambda.api")
PATH = "/2015-03-31/functions/{name}/invocations"
#: Error types whose refusal ``_refused`` has logged already.
_SIGNATURE_ERRORS = frozenset(
    error.error_type
    for error in (
        sigv4.MissingAuthenticationToken,
        sigv4.IncompleteSignature,
        sigv4.InvalidSignature,
        sigv4.UnrecognizedClient,
    )
)


class LambdaApi:
    def __init__(
        self,
        runtime: Runtime,
        invoker: AsyncInvoker,
        region: str,
        credentials: sigv4.Credentials | None = None,
        hosts: HostPolicy | None = None,
    ) -> None:
        """``hosts``: the ``Host`` names answered (default: IP literals and localhost only), as
        on the control plane; ``credentials`` None: any well-formed signature passes."""
        self.runtime = runtime
        self.invoker = invoker
        self.region = region
        # None: any well-formed SigV4 signature passes; else its value is verified with these.
        self.credentials = credentials
        self.hosts = hosts or HostPolicy()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.invoke)

    async def invoke(self, request: web.Request) -> web.Response:
        response = await self._invoke(request)
        if response.status >= 400:
            # One line per refusal (the signature's are logged with their reason already).
            error_type = response.header("x-amzn-ErrorType") or ""
            if error_type not in _SIGNATURE_ERRORS:
                log.info(
                    "Invoke %s answered %d %s: %s",
                    printable(request.match_info.get("name", "")),
                    response.status,
                    error_type,
                    printable(_message(response)),
                )
        return to_aiohttp(response)

    async def _invoke(self, request: web.Request) -> HttpResponse:
        # A DNS-rebound name is refused before anything else, as on the control plane: a web
        # page must not make the emulator run a function (AWS has no such check).
        host = request.headers.get("Host")
        if not self.hosts.allows(host):
            return lambda_api.host_refused(printable(host_of(host or ""))).response()
        # Lambda's API answers signed requests only (SigV4, service "lambda",
        # https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html): the signature's form
        # is checked first, its value (with --credentials) once the body is read, and only then
        # is the function looked up.
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        signed = sigv4.SignedRequest(request.method, request.raw_path, headers)
        try:
            fields = sigv4.signature_fields(signed)
        except sigv4.SignatureRefusal as refusal:
            return self._refused(refusal)
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        try:
            payload = await read_body(request, LAMBDA_SYNC_PAYLOAD_LIMIT)
        except BodyTooLarge:
            size = request.content_length or LAMBDA_SYNC_PAYLOAD_LIMIT + 1
            return lambda_api.too_large(size, invocation_type, LAMBDA_SYNC_PAYLOAD_LIMIT).response()
        if self.credentials is not None:
            try:
                sigv4.verify(
                    dataclasses.replace(signed, body=payload),
                    fields,
                    self.credentials,
                    sigv4.LAMBDA_SERVICE,
                    # Real wall time: clients sign with theirs (the emulated epoch is only the
                    # handlers' clock, emulator.clock).
                    now=datetime.datetime.now(datetime.UTC),
                )
            except sigv4.SignatureRefusal as refusal:
                return self._refused(refusal)
        requested = request.match_info["name"]
        name = lambda_api.function_name(requested) or requested
        key = self.runtime.key_for_name(name)
        if key is None:
            return lambda_api.not_found(name, self.region).response()
        error = lambda_api.check_payload(invocation_type, payload)
        if error is not None:
            return error.response()
        event = parse_json(payload) if payload else {}  # checked above: it parses

        if invocation_type == "DryRun":
            return HttpResponse(204)
        if invocation_type == "Event":
            event_id = self.invoker.submit(key, event)
            log.info("queued event %s for %s", event_id, name)
            return HttpResponse(202, [("x-amzn-RequestId", event_id)])
        try:
            invocation = self.runtime.invoke(key, event)
        except Throttled:
            return lambda_api.throttled().response()
        result = await invocation.task
        headers = [
            ("Content-Type", JSON),
            ("x-amzn-RequestId", result.record.request_id),
            ("X-Amz-Executed-Version", "$LATEST"),
        ]
        if not result.ok:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
            return HttpResponse(200, headers, json.dumps(result.error).encode())
        try:
            body = json.dumps(result.payload).encode()
        except (TypeError, ValueError) as exc:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
            marshal = {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
            }
            return HttpResponse(200, headers, json.dumps(marshal).encode())
        return HttpResponse(200, headers, body)

    @staticmethod
    def _refused(refusal: sigv4.SignatureRefusal) -> HttpResponse:
        log.info(
            "Invoke refused with %s: %s",
            refusal.error_type,
            printable(refusal.message.split("\n")[0]),
        )
        return refusal.response


def _message(response: HttpResponse) -> str:
    """The ``message`` (or ``Message``) of a Lambda error body, else ""."""
    try:
        body = json.loads(response.body)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return str(body.get("message") or body.get("Message") or "")
