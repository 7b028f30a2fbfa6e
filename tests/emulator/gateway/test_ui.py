"""The page's files at /_emulator/ui/ (emulator.gateway.ui), over real sockets: the redirect,
content types, caching, the access rules, and no way out of the page's own files."""

import asyncio
import re

from emulator.gateway.ui import STATIC_DIR
from emulator.stack import StackConfig
from tests.virtual import run_with_http, service_file

FUNCTIONS = """
report:
  handler: app.report
  events: [{http: POST reports}]
"""


async def report(event, context):
    return {"statusCode": 200, "body": "{}"}


def run(tmp_path, scenario, config: StackConfig | None = None):
    return run_with_http(
        service_file(tmp_path, FUNCTIONS), {"report": report}, scenario, config=config
    )


async def raw(port: int, target: str) -> bytes:
    """One request sent byte for byte as written (no client normalises its path)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    try:
        return await reader.read()
    finally:
        writer.close()


def test_the_bare_path_answers_308_to_the_folder(tmp_path):
    async def scenario(stack, http):
        url = f"{stack.http_url}/_emulator/ui"
        async with http.get(url, allow_redirects=False) as response:
            return response.status, response.headers.get("Location")

    assert run(tmp_path, scenario) == (308, "/_emulator/ui/")


def test_the_page_and_every_module_it_loads_come_with_their_types(tmp_path):
    async def scenario(stack, http):
        base = f"{stack.http_url}/_emulator/ui/"
        answers = {}
        async with http.get(base) as response:
            html = await response.text()
            answers["index.html"] = response.status, response.headers["Content-Type"]
        # Every file the page names (stylesheet, modules) and the modules they import.
        names = set(re.findall(r'(?:src|href)="([\w.]+\.(?:js|css))"', html))
        pending = list(names)
        while pending:
            name = pending.pop()
            async with http.get(base + name) as response:
                text = await response.text()
                answers[name] = response.status, response.headers["Content-Type"]
            for imported in re.findall(r'from "\./([\w.]+\.js)"', text):
                if imported not in answers and imported not in pending:
                    pending.append(imported)
        return answers

    answers = run(tmp_path, scenario)
    assert answers["index.html"] == (200, "text/html; charset=utf-8")
    assert answers["style.css"] == (200, "text/css; charset=utf-8")
    modules = {name for name in answers if name.endswith(".js")}
    assert {"app.js", "api.js", "strategies.js"} <= modules
    for name in modules:
        assert answers[name] == (200, "text/javascript; charset=utf-8"), name
    # Every file of the folder is reachable from the page: none is dead weight.
    shipped = {p.name for p in STATIC_DIR.iterdir() if p.suffix in (".html", ".css", ".js")}
    assert shipped == set(answers)


def test_answers_are_revalidated_and_an_unchanged_file_costs_a_304(tmp_path):
    async def scenario(stack, http):
        url = f"{stack.http_url}/_emulator/ui/app.js"
        async with http.get(url) as first:
            body = await first.read()
            etag, cache = first.headers["ETag"], first.headers["Cache-Control"]
        async with http.get(url, headers={"If-None-Match": etag}) as again:
            again_body = await again.read()
            return body, etag, cache, again.status, again_body, again.headers["ETag"]

    body, etag, cache, status, again_body, again_etag = run(tmp_path, scenario)
    assert body == (STATIC_DIR / "app.js").read_bytes()
    assert cache == "no-cache"
    assert status == 304
    assert again_body == b""
    assert again_etag == etag


def test_no_path_leads_out_of_the_pages_files(tmp_path):
    targets = [
        "/_emulator/ui/../../pyproject.toml",
        "/_emulator/ui/%2e%2e/%2e%2e/pyproject.toml",
        "/_emulator/ui/..%2f..%2fstack.py",
        "/_emulator/ui/%2e%2e%2fgateway%2fui.py",
        "/_emulator/ui/..\\..\\stack.py",
        "/_emulator/ui/static/app.js",
        "/_emulator/ui/%2fetc%2fpasswd",
        "/_emulator/ui//etc/passwd",
        "/_emulator/ui/app.js%00.html",
        "/_emulator/ui/__init__.py",
    ]

    async def scenario(stack, http):
        return {target: await raw(stack.http_port, target) for target in targets}

    answers = run(tmp_path, scenario)
    for target, answer in answers.items():
        status = int(answer.split(b" ", 2)[1])
        # 404 from the page, or, where the path was normalised out of /_emulator/ui, the REST
        # API's 403 for a resource it does not have: never a file.
        assert status in (403, 404), (target, answer[:200])
        assert b"[build-system]" not in answer
        assert b"import " not in answer
        assert b"root:" not in answer


def test_the_page_is_open_without_the_token_but_checks_the_host(tmp_path):
    async def scenario(stack, http):
        base = f"{stack.http_url}/_emulator"
        answers = {}
        for name, path, headers in [
            ("page", "/ui/", {}),
            ("module", "/ui/app.js", {}),
            ("rebound host", "/ui/", {"Host": "attacker.example"}),
            ("metrics", "/metrics", {}),
        ]:
            async with http.get(base + path, headers=headers) as response:
                answers[name] = response.status
        return answers

    answers = run(tmp_path, scenario, StackConfig(control_token="s3cret"))
    assert answers == {"page": 200, "module": 200, "rebound host": 403, "metrics": 401}
