"""One environment's Runtime API, spoken to directly with an HTTP client, as a runtime does."""

import asyncio
import json

import aiohttp

from emulator.core.runtime_api import Assignment
from emulator.runtime.runtime_api import RuntimeApiServer

BASE = "/2018-06-01/runtime"


def test_next_response_error_and_init_error_as_aws_documents():
    async def main():
        server = RuntimeApiServer()
        await server.start()
        url = f"http://{server.address}{BASE}"
        try:
            async with aiohttp.ClientSession() as http:
                nxt = asyncio.ensure_future(http.get(f"{url}/invocation/next"))
                assert await server.initialised is None  # the first next ends Init
                reply = server.invoke(Assignment("r1", b'{"a": 1}', 123, "arn:f", "Root=x"), None)
                response = await nxt
                assert response.status == 200
                assert response.headers["Lambda-Runtime-Aws-Request-Id"] == "r1"
                assert response.headers["Lambda-Runtime-Deadline-Ms"] == "123"
                assert response.headers["Lambda-Runtime-Invoked-Function-Arn"] == "arn:f"
                assert response.headers["Lambda-Runtime-Trace-Id"] == "Root=x"
                assert response.headers["Content-Type"] == "application/json"
                assert await response.json() == {"a": 1}

                wrong = await http.post(f"{url}/invocation/nope/response", data=b"{}")
                assert wrong.status == 400
                assert (await wrong.json())["errorType"] == "InvalidRequestID"
                ok = await http.post(f"{url}/invocation/r1/response", data=b'{"done": true}')
                assert ok.status == 202
                assert (await reply).payload == {"done": True}
                again = await http.post(f"{url}/invocation/r1/response", data=b"{}")
                assert again.status == 403
                late_init = await http.post(f"{url}/init/error", data=b"{}")
                assert late_init.status == 403

                nxt = asyncio.ensure_future(http.get(f"{url}/invocation/next"))
                reply = server.invoke(Assignment("r2", b"{}", 1, "arn:f", "Root=y"), None)
                await nxt
                error = {"errorMessage": "bad", "errorType": "ValueError", "stackTrace": ["x"]}
                posted = await http.post(
                    f"{url}/invocation/r2/error",
                    data=json.dumps(error).encode(),
                    headers={"Lambda-Runtime-Function-Error-Type": "Unhandled"},
                )
                assert posted.status == 202
                assert (await reply).error == error
        finally:
            await server.close()

    asyncio.run(main())


def test_a_streamed_response_reaches_the_sink_metadata_first():
    async def main():
        server = RuntimeApiServer()
        await server.start()
        url = f"http://{server.address}{BASE}"
        chunks: list = []
        try:
            async with aiohttp.ClientSession() as http:
                nxt = asyncio.ensure_future(http.get(f"{url}/invocation/next"))
                reply = server.invoke(Assignment("r1", b"{}", 1, "arn:f", "t"), chunks.append)
                await nxt

                async def body():
                    yield b'{"statusCode": 201}' + b"\0" * 8
                    yield b"hello "
                    yield b"world"

                posted = await http.post(
                    f"{url}/invocation/r1/response",
                    data=body(),
                    headers={
                        "Lambda-Runtime-Function-Response-Mode": "streaming",
                        "Content-Type": "application/vnd.awslambda.http-integration-response",
                    },
                )
                assert posted.status == 202
                assert (await reply).streamed
        finally:
            await server.close()
        assert chunks[0] == {"statusCode": 201}
        assert b"".join(chunks[1:]) == b"hello world"

    asyncio.run(main())
