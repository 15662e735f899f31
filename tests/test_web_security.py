"""`nianbao serve` under attack: cross-site posts, framing, password guessing, weak tokens (issue 16).

Every request here is plain HTTP against the real app (starlette TestClient)."""

from __future__ import annotations

import logging
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time

import httpx
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from nianbao.cli import app as cli_app
from nianbao.web.app import create_app
from nianbao.web.server import check_bind, new_token, weak_token

BASE = "http://127.0.0.1"
LAN = "http://192.0.2.10:8765"
TOKEN = "Zx8kQ2mW7pLr4Tn9Vb3c"


def batch_count(client) -> int:
    return len(client.app.state.storage.list_batches())


def csrf_of(client) -> str:
    """The CSRF token our own page puts in its form (and the cookie it goes with)."""
    html = client.get("/check").text
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(tmp_path / "d", run_jobs=False), base_url=BASE) as c:
        yield c


@pytest.mark.parametrize("origin", [None, "null"])
def test_post_without_a_usable_origin_needs_the_page_token(client, origin):
    headers = {"Origin": origin} if origin else {}
    files = [("files", ("a.xlsx", b"x"))]
    r = client.post("/batches", files=files, headers=headers, follow_redirects=False)
    assert r.status_code == 403 and "刷新页面" in r.text
    assert batch_count(client) == 0
    token = csrf_of(client)  # the cookie is now set: a forged or missing form token still fails
    r = client.post("/batches", files=files, data={"csrf": "A" * 43}, headers=headers)
    assert r.status_code == 403 and batch_count(client) == 0
    r = client.post("/batches", files=files, headers=headers, follow_redirects=False)
    assert r.status_code == 403 and batch_count(client) == 0
    # our own form: the token is the first field of the multipart body
    r = client.post("/batches", files=files, data={"csrf": token}, headers=headers, follow_redirects=False)
    assert r.status_code == 303 and batch_count(client) == 1
    # a script of our own page may send it as a header instead
    r = client.post(
        "/batches", files=files, headers={**headers, "X-CSRF-Token": token}, follow_redirects=False
    )
    assert r.status_code == 303 and batch_count(client) == 2


def test_token_of_another_browser_session_is_refused(tmp_path):
    app = create_app(tmp_path / "d", run_jobs=False)
    with TestClient(app, base_url=BASE) as a, TestClient(app, base_url=BASE) as b:
        token_a, token_b = csrf_of(a), csrf_of(b)
        assert token_a != token_b
        r = b.post("/batches", files=[("files", ("a.xlsx", b"x"))], data={"csrf": token_a})
        assert r.status_code == 403 and batch_count(b) == 0


@pytest.mark.slow
def test_urlencoded_forms_and_deleting_need_the_token_too(client):
    r = client.post("/templates/download", data={"form": "2021"})
    assert r.status_code == 403
    token = csrf_of(client)
    r = client.post("/templates/download", data={"csrf": token, "form": "2021"})
    assert r.status_code == 200 and r.content[:2] == b"PK"
    r = client.post(
        "/batches", files=[("files", ("a.xlsx", b"x"))], data={"csrf": token}, follow_redirects=False
    )
    batch_id = r.headers["location"].rsplit("/", 1)[1]
    client.app.state.storage.manifest(batch_id)  # exists
    r = client.post(f"/batches/{batch_id}/delete", headers={"Origin": "null"})
    assert r.status_code == 403 and client.app.state.storage.manifest(batch_id) is not None


def test_same_origin_post_needs_no_token_and_other_origins_are_refused(client):
    files = [("files", ("a.xlsx", b"x"))]
    r = client.post("/batches", files=files, headers={"Origin": BASE}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post("/batches", files=files, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and batch_count(client) == 1


def test_a_bearer_token_is_its_own_proof(tmp_path):
    with TestClient(
        create_app(tmp_path / "d", token=TOKEN, host="0.0.0.0", run_jobs=False), base_url=LAN
    ) as c:
        files = [("files", ("a.xlsx", b"x"))]
        r = c.post(
            "/batches", files=files, headers={"Authorization": f"Bearer {TOKEN}"}, follow_redirects=False
        )
        assert r.status_code == 303  # no cookie, no Origin, no form token: the header is the secret
        r = c.post("/batches", files=files, headers={"Authorization": "Bearer wrong-wrong-wrong"})
        assert r.status_code == 401
        assert c.get("/api/batches/x", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_security_headers_on_every_answer(client):
    for url in ("/", "/check", "/templates", "/aggregate", "/static/style.css", "/nothing-here"):
        h = client.get(url).headers
        assert h["x-frame-options"] == "DENY", url
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "default-src 'self'" in h["content-security-policy"]
        assert "unsafe-inline" not in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"
    r = client.post("/batches", headers={"Origin": "http://evil.example"})
    assert r.headers["x-frame-options"] == "DENY"  # refusals too


def test_pages_need_no_inline_script_or_style(client):
    """The policy allows only our own files: a page with inline code would break under it."""
    for url in ("/", "/check", "/templates", "/aggregate", "/login"):
        html = client.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html), url


# ---------------------------------------------------------------- password guessing
@pytest.mark.slow
def test_guessing_is_slowed_down_then_allowed_again(tmp_path, caplog):
    app = create_app(tmp_path / "d", token=TOKEN, host="0.0.0.0", run_jobs=False)
    now = [1000.0]
    app.state.web.throttle.clock = lambda: now[0]
    with TestClient(app, base_url=LAN, headers={"Origin": LAN}) as c, caplog.at_level(logging.WARNING):
        for _ in range(5):
            r = c.post("/login", data={"token": "guess-guess-guess"})
            assert r.status_code == 401
        r = c.post("/login", data={"token": "guess-guess-guess"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "输错次数过多" in r.text
        # while the wait lasts even the right token is not tried
        r = c.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert r.status_code == 429
        waits = [int(r.headers["retry-after"])]
        for _ in range(4):  # a failure after each wait doubles the next one
            now[0] += waits[-1]
            r = c.post("/login", data={"token": "guess-guess-guess"})
            assert r.status_code == 429
            waits.append(int(r.headers["retry-after"]))
        assert waits[1:] == [2 * w for w in waits[:-1]]
        now[0] += 16 * 60  # never a permanent lock-out
        r = c.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert r.status_code == 303
    assert any("访问口令错误" in m and "testclient" in m for m in caplog.messages)


@pytest.mark.slow
def test_parallel_guesses_cannot_outrun_the_throttle(tmp_path):
    import concurrent.futures

    app = create_app(tmp_path / "d", token=TOKEN, host="0.0.0.0", run_jobs=False)
    with TestClient(app, base_url=LAN, headers={"Origin": LAN}) as c:

        def guess(i):
            return c.post("/login", data={"token": f"guess-{i:08d}"}).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(guess, range(25)))
    assert codes.count(401) <= 5 and codes.count(429) >= 20


@pytest.mark.parametrize(
    "token",
    ["short-token", "password1234", "PASSWORD-1234", "县政务公开办2026", "aaaaaaaaaaaaaaaa", "123456789012"],
)
def test_weak_tokens_are_refused(token):
    assert weak_token(token)
    assert check_bind("0.0.0.0", token)


def test_new_token_is_strong_and_printed(tmp_path):
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 20 and weak_token(a) is None
    res = CliRunner().invoke(cli_app, ["serve", "--new-token"])
    assert res.exit_code == 0
    printed = res.output.strip()
    assert len(printed) >= 20 and weak_token(printed) is None


def test_serve_refuses_a_short_token_in_chinese(tmp_path):
    res = CliRunner().invoke(
        cli_app, ["serve", "--host", "0.0.0.0", "--data", str(tmp_path)], env={"NIANBAO_TOKEN": "abc12345"}
    )
    assert res.exit_code == 2 and "至少需要 12 个字符" in res.output and "--new-token" in res.output


# ---------------------------------------------------------------- transport
def test_tls_files_are_checked_before_starting(tmp_path):
    def serve(*args):
        return CliRunner().invoke(cli_app, ["serve", "--data", str(tmp_path / "d"), *args])

    res = serve("--ssl-certfile", str(tmp_path / "a.crt"))
    assert res.exit_code == 2 and "必须同时给出" in res.output
    res = serve("--ssl-certfile", str(tmp_path / "a.crt"), "--ssl-keyfile", str(tmp_path / "a.key"))
    assert res.exit_code == 2 and "证书文件" in res.output and "不存在" in res.output
    (tmp_path / "a.crt").write_text("not a certificate")
    (tmp_path / "a.key").write_text("not a key")
    res = serve("--ssl-certfile", str(tmp_path / "a.crt"), "--ssl-keyfile", str(tmp_path / "a.key"))
    assert res.exit_code == 2 and "无法使用" in res.output and "PEM" in res.output


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")
def test_https_with_the_offices_own_certificate(tmp_path):
    crt, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(crt),
        ],
        check=True,
        capture_output=True,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "import sys; from nianbao.cli import main; sys.argv[0] = 'nianbao'; main()"
    cmd = [sys.executable, "-c", code, "serve", "--port", str(port), "--data", str(tmp_path / "d")]
    cmd += ["--ssl-certfile", str(crt), "--ssl-keyfile", str(key)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline() + proc.stdout.readline()
        assert f"https://127.0.0.1:{port}/" in first
        trust, r = ssl.create_default_context(cafile=str(crt)), None
        for _ in range(100):
            try:
                r = httpx.get(f"https://127.0.0.1:{port}/", verify=trust, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert r is not None and r.status_code == 200 and "年度报告" in r.text
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not answered
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2).raise_for_status()
    finally:
        proc.terminate()
        proc.wait(10)
