"""First run against a real ``lexintel serve`` with accounts on and no users: the first admin is created from
this machine without a code, or from elsewhere with the one-time setup code the server printed in its log;
refused once any user exists; wrong codes are rate-limited. Plus ``/schema``: the docs page is ours, served
from the package with the strict CSP, and names no other host.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from tests.support import ServerProcess

RELAYED = {"X-Forwarded-For": "203.0.113.9"}  # what a reverse proxy adds: the request is not from this machine
PW = "a long enough passphrase"  # passes the password rules (length, not a common one)
CODE = re.compile(r"setup code (\d{4}-\d{4}-\d{4})")


def test_first_admin_from_elsewhere_needs_the_code_from_the_log(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(LEXINTEL_AUTH="on")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/setup").json() == {"needed": True, "code_required": False}
        assert http.get("/setup", headers=RELAYED).json() == {"needed": True, "code_required": True}
        assert http.get("/cases").status_code == 401

        as_form = http.post("/setup", content=b'{"name": "admin", "password": "a long enough passphrase"}',
                            headers={"Content-Type": "text/plain", **RELAYED})
        assert as_form.status_code == 415
        no_code = http.post("/setup", json={"name": "admin", "password": PW}, headers=RELAYED)
        assert no_code.status_code == 403 and no_code.json()["code"] == "setup_code_required"
        wrong = http.post("/setup", json={"name": "admin", "password": PW, "code": "0000-0000-0000"},
                          headers=RELAYED)
        assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_setup_code"

        found = CODE.search(server.log())
        assert found, server.log(4000)
        weak = http.post("/setup", json={"name": "admin", "password": "short", "code": found.group(1)},
                         headers=RELAYED)
        assert weak.status_code == 400 and weak.json()["code"] == "weak_password"
        made = http.post("/setup", json={"name": "admin", "password": PW, "code": found.group(1)},
                         headers=RELAYED)
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["user"]["name"] == "admin" and body["user"]["role"] == "admin" and body["csrf_token"]
        me = http.get("/auth/me")  # the cookie from the answer: logged in already
        assert me.status_code == 200 and me.json()["user"]["role"] == "admin"

        again = httpx.post(f"{server.url}/setup", json={"name": "second", "password": PW}, timeout=30)
        assert again.status_code == 409 and again.json()["code"] == "setup_done"
        assert httpx.get(f"{server.url}/setup", timeout=30).json() == {"needed": False, "code_required": False}
    assert "first admin 'admin' created from the page (with the setup code)" in server.log()


def test_first_admin_from_this_machine_and_wrong_codes_limited(server_factory: Callable[..., ServerProcess]) -> None:
    remote = server_factory(LEXINTEL_AUTH="on")
    with httpx.Client(base_url=remote.url, timeout=30) as http:
        for _ in range(10):
            assert http.post("/setup", json={"name": "admin", "password": PW, "code": "1"},
                             headers=RELAYED).status_code == 403
        found = CODE.search(remote.log())
        assert found
        limited = http.post("/setup", json={"name": "admin", "password": PW, "code": found.group(1)},
                            headers=RELAYED)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1  # even the right code waits
        local = http.post("/setup", json={"name": "boss", "password": PW})
        assert local.status_code == 201, local.text  # this machine needs no code, so no limit either
        assert http.get("/auth/me").json()["user"]["name"] == "boss"
    auth_off = server_factory()
    assert httpx.get(f"{auth_off.url}/setup", timeout=30).json() == {"needed": False, "code_required": False}


def test_schema_docs_are_served_from_the_package(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(LEXINTEL_AUTH="on")
    page = httpx.get(f"{server.url}/schema", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'") and "unsafe-inline" not in csp
    assert re.findall(r'(?:src|href)="([^"#]+)"', page.text) == [
        "/static/icon.svg", "/schema/docs.css", "/schema/docs.js", "/schema/openapi.json"]
    for asset, kind in (("docs.js", "text/javascript"), ("docs.css", "text/css")):
        resp = httpx.get(f"{server.url}/schema/{asset}", timeout=30)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith(kind)
        assert not re.search(r"https?://", resp.text), asset
    assert not re.search(r"https?://", page.text)
    for cdn_page in ("/schema/redoc", "/schema/swagger", "/schema/elements", "/schema/rapidoc"):
        assert httpx.get(f"{server.url}{cdn_page}", timeout=30).status_code == 404, cdn_page
    schema = httpx.get(f"{server.url}/schema/openapi.json", timeout=30).json()
    assert {"patch", "delete"} <= set(schema["paths"]["/cases/{case_id}"])
    assert {"get", "post"} <= set(schema["paths"]["/setup"])
