"""The management pages (lexintel/web/admin.js) in Debian's chromium through Playwright, against real servers.

First run from this machine and, through a proxy, with the setup code from the server's log; cases created,
renamed and deleted through the page, with the confirmation naming what goes and the other tabs following;
API tokens (secret shown once, revoke); sharing and users (these need the accounts API of the ``access``
branch and skip without it); the docs page at /schema loading nothing from another host. Keyboard only where
a person would use the keyboard; screenshots in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.auth_helpers import Account, log_in_page
from tests.ci_helpers import BROWSER_FLAGS, import_or_missing
from tests.support import ServerProcess, wait_for

import_or_missing("playwright.sync_api", "pip install playwright", BROWSER_FLAGS)  # fail or skip before the import
from playwright.sync_api import BrowserContext, Page, expect  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CODE = re.compile(r"setup code (\d{4}-\d{4}-\d{4})")
Contexts = Callable[..., BrowserContext]


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=False)


def log_in(context: BrowserContext, url: str, name: str, hash_: str = "") -> Page:
    page: Page = log_in_page(context, url, name, lambda p: expect(p.locator("#admin-cases")).to_be_visible(), hash_)
    return page


def test_first_admin_from_this_machine_by_keyboard(server_factory: Callable[..., ServerProcess],
                                                   contexts: Contexts) -> None:
    server = server_factory(LEXINTEL_AUTH="on")
    page = contexts().new_page()
    page.goto(server.url + "/")
    first = page.locator("#first-run")
    expect(first).to_contain_text("this server has no users yet")
    expect(first).to_contain_text("no setup code is needed")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#admin-nav")).to_be_hidden()
    shot(page, "first-run")
    # keyboard only: the name field has the focus with "admin" selected
    expect(page.get_by_label("Administrator's user name")).to_be_focused()
    page.keyboard.type("boss")
    for text in ("a long passphrase", "a long passphrase typo"):
        page.keyboard.press("Tab")
        page.keyboard.type(text)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#first-run-message")).to_have_text(re.compile("passwords differ"))
    expect(page.get_by_label("The same password again")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("a long passphrase")
    page.keyboard.press("Enter")
    expect(page.locator("#admin-users")).to_be_visible()  # reloaded, logged in as an admin: People is there
    expect(page.locator("#first-run")).to_have_count(0)
    expect(page.locator("#who-name")).to_have_text("boss")
    assert httpx.get(f"{server.url}/setup", timeout=30).json()["needed"] is False
    shot(page, "first-run-done")


def test_first_admin_through_a_proxy_needs_the_setup_code(server_factory: Callable[..., ServerProcess],
                                                          contexts: Contexts) -> None:
    server = server_factory(LEXINTEL_AUTH="on")
    context = contexts(extra_http_headers={"X-Forwarded-For": "203.0.113.9"})  # as a reverse proxy sends them
    page = context.new_page()
    page.goto(server.url + "/")
    form = page.locator("#first-run")
    expect(form).to_contain_text("the setup code from the server's log is needed")
    form.get_by_label("Administrator's user name").fill("chief")
    form.get_by_label("Password", exact=True).fill("a long passphrase")
    form.get_by_label("The same password again").fill("a long passphrase")
    form.get_by_label("Setup code").fill("1111-2222-3333")
    form.get_by_label("Setup code").press("Enter")
    expect(page.locator("#first-run-message")).to_have_text("That is not the setup code printed in the server's log.")
    found = CODE.search(server.log())
    assert found
    form.get_by_label("Setup code").fill(found.group(1))
    shot(page, "first-run-code")
    form.get_by_label("Setup code").press("Enter")
    expect(page.locator("#who-name")).to_have_text("chief")
    expect(page.locator("#admin-users")).to_be_visible()


def _case(http: httpx.Client, who: Account, name: str) -> str:
    resp = http.post("/cases", json={"name": name}, headers=who.headers)
    assert resp.status_code == 201
    return str(resp.json()["id"])


def test_cases_created_renamed_and_deleted_through_the_page(accounts_server: tuple[ServerProcess, dict[str, Account]],
                                                            contexts: Contexts) -> None:
    server, acc = accounts_server
    alice = acc["alice"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        other = _case(http, alice, "Other matter")
        a1 = log_in(contexts(), server.url, "alice")
        context = a1.context
        a1.locator("#admin-cases").click()
        dialog = a1.locator("#admin-dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_label("New case").fill("Smith v Jones")
        dialog.get_by_label("New case").press("Enter")
        expect(a1.locator("#admin-status")).to_have_text("Created the case “Smith v Jones”.")
        cid = wait_for(lambda: next((c["id"] for c in http.get("/cases", headers=alice.headers).json()
                                     if c["name"] == "Smith v Jones"), None), what="the case made by the page")
        resp = http.post(f"/cases/{cid}/documents", headers=alice.headers,
                         files=[("files", ("brief.txt", b"The quokka brief.\n" * 50, "text/plain"))])
        doc = resp.json()["documents"][0]["id"]
        wait_for(lambda: http.get(f"/documents/{doc}", headers=alice.headers).json()["status"] == "indexed",
                 timeout=60, what="brief indexed")
        stored = Path(server.data_dir / "files" / doc[:2] / doc)
        assert stored.exists()

        # two more tabs of the same person: one on the case, one on another case
        a2 = context.new_page()
        a2.goto(f"{server.url}/#case={other}")
        expect(a2.locator(f"#case-select option[value='{cid}']")).to_have_text("Smith v Jones")
        a3 = context.new_page()
        a3.goto(f"{server.url}/#case={cid}")
        expect(a3.locator("#case-select")).to_have_value(cid)

        # rename, keyboard only, in the first tab's dialog
        a1.bring_to_front()
        row = dialog.locator(f"tr[data-case-id='{cid}']")
        row.get_by_role("button", name="Rename Smith v Jones").focus()
        a1.keyboard.press("Enter")
        expect(row.get_by_label("New name for Smith v Jones")).to_be_focused()
        a1.keyboard.type("Smith v Jones (appeal)")
        a1.keyboard.press("Enter")
        expect(a1.locator("#admin-status")).to_have_text("Renamed “Smith v Jones” to “Smith v Jones (appeal)”.")
        expect(row.locator(".case-name")).to_have_text("Smith v Jones (appeal)")
        for tab in (a2, a3):
            expect(tab.locator(f"#case-select option[value='{cid}']")).to_have_text("Smith v Jones (appeal)")
        assert http.get(f"/cases/{cid}", headers=alice.headers).json()["name"] == "Smith v Jones (appeal)"

        # delete: the confirmation names what goes; Cancel has the focus, Escape keeps everything
        row.get_by_role("button", name="Delete Smith v Jones (appeal)").click()
        confirm = a1.locator("dialog.confirm")
        expect(confirm).to_contain_text("This deletes 1 document (")
        expect(confirm).to_contain_text("passage")
        expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
        shot(a1, "delete-confirmation")
        a1.keyboard.press("Escape")
        expect(a1.locator("#admin-status")).to_have_text("Nothing was deleted.")
        assert stored.exists()
        row.get_by_role("button", name="Delete Smith v Jones (appeal)").click()
        confirm.get_by_role("button", name="Delete “Smith v Jones (appeal)” and 1 document").click()
        expect(a1.locator("#admin-status")).to_have_text("Deleted the case “Smith v Jones (appeal)” and 1 document.")
        expect(row).to_have_count(0)
        expect(a2.locator(f"#case-select option[value='{cid}']")).to_have_count(0)
        shown = a3.locator("#admin-notice:not([hidden]), #notice:not([hidden])").first
        expect(shown).to_contain_text("deleted")  # the tab that had it open
        expect(a3.locator(f"#case-select option[value='{cid}']")).to_have_count(0)
        shot(a3, "deleted-notice")
        assert not stored.exists()
        assert http.get(f"/cases/{cid}", headers=alice.headers).status_code == 404


def _page_follows_case_events(url: str) -> bool:
    """True when the page's own scripts (not admin.js) listen for the case stream's rename/delete events."""
    sources = httpx.get(f"{url}/", timeout=30).text
    scripts = re.findall(r'src="/static/([a-z]+\.js)"', sources)
    modules = {"stream.js"} | set(scripts)
    texts = [httpx.get(f"{url}/static/{name}", timeout=30) for name in modules if name != "admin.js"]
    return any(r.status_code == 200 and "case_renamed" in r.text for r in texts)


def test_another_persons_open_tab_follows_rename_and_delete(
        accounts_server: tuple[ServerProcess, dict[str, Account]], contexts: Contexts) -> None:
    server, acc = accounts_server
    if not _page_follows_case_events(server.url):
        pytest.skip("needs the page of issue 17 item 1 (webui branch), which follows case_renamed/case_deleted")
    alice = acc["alice"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        cid = _case(http, alice, "Shared matter")
        assert http.post(f"/cases/{cid}/shares", json={"user": "bob"}, headers=alice.headers).status_code == 201
        b1 = log_in(contexts(), server.url, "bob", f"#case={cid}")
        expect(b1.locator("#case-select")).to_have_value(cid)
        assert http.patch(f"/cases/{cid}", json={"name": "Shared matter, renamed"},
                          headers=alice.headers).status_code == 200
        expect(b1.locator(f"#case-select option[value='{cid}']")).to_have_text("Shared matter, renamed")
        assert http.delete(f"/cases/{cid}", headers=alice.headers).status_code == 204
        expect(b1.locator(f"#case-select option[value='{cid}']")).to_have_count(0)
        shot(b1, "other-tab-deleted")


def test_api_tokens_by_keyboard_secret_shown_once_and_revoked(
        accounts_server: tuple[ServerProcess, dict[str, Account]], contexts: Contexts) -> None:
    server, _ = accounts_server
    page = log_in(contexts(), server.url, "alice")
    page.locator("#admin-tokens").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#admin-dialog")
    expect(page.locator("#admin-title")).to_have_text("Your API tokens")
    expect(dialog.get_by_label("Token name")).to_be_visible()  # the form is drawn once the token list is loaded
    page.keyboard.press("Tab")  # Close
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Token name")).to_be_focused()
    page.keyboard.type("ci laptop")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("30")
    page.keyboard.press("Enter")
    secret_field = dialog.get_by_label("The new token")
    expect(secret_field).to_be_focused()
    secret = secret_field.input_value()
    assert secret.startswith("lxt_")
    expect(dialog.locator("#admin-secret")).to_contain_text("only time")
    shot(page, "token-created")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{server.url}/auth/me", headers=bearer, timeout=30).json()["user"]["name"] == "alice"
    row = dialog.locator("tr", has=page.get_by_text("ci laptop"))
    expect(row).to_contain_text("never")  # last used: never, when the list was drawn

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#admin-tokens")).to_be_focused()  # focus back where it was
    page.keyboard.press("Enter")
    expect(row).to_be_visible()
    expect(dialog.locator("#admin-secret")).to_have_count(1)
    expect(dialog.locator("#admin-secret")).to_be_hidden()  # shown once: not again
    revoke = row.get_by_role("button", name="Revoke ci laptop")
    revoke.focus()
    page.keyboard.press("Enter")
    expect(revoke).to_have_text("Press again to revoke")
    assert httpx.get(f"{server.url}/auth/me", headers=bearer, timeout=30).status_code == 200
    page.keyboard.press("Enter")
    expect(page.locator("#admin-status")).to_have_text("Revoked the token “ci laptop”: it no longer works.")
    assert httpx.get(f"{server.url}/auth/me", headers=bearer, timeout=30).status_code == 401


def _has_accounts_api(url: str) -> bool:
    """True when the server has the accounts API of the access branch (users, share lists)."""
    paths = httpx.get(f"{url}/schema/openapi.json", timeout=30).json()["paths"]
    return "/users" in paths and "get" in paths.get("/cases/{case_id}/shares", {})


def test_sharing_and_users_through_the_page(accounts_server: tuple[ServerProcess, dict[str, Account]],
                                            contexts: Contexts) -> None:
    server, acc = accounts_server
    alice, bob = acc["alice"], acc["bob"]
    if not _has_accounts_api(server.url):
        pytest.skip("needs the accounts API of the access branch (GET /users, GET /cases/{id}/shares)")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        cid = _case(http, alice, "Jones estate")
        page = log_in(contexts(), server.url, "alice")
        page.locator("#admin-cases").click()
        dialog = page.locator("#admin-dialog")
        dialog.get_by_role("button", name="Share Jones estate").click()
        expect(page.locator("#admin-title")).to_have_text("Sharing “Jones estate”")
        dialog.get_by_label("Share with (user name)").fill("bob")
        dialog.get_by_label("Access").select_option("write")
        dialog.get_by_role("button", name="Share", exact=True).click()
        expect(page.locator("#admin-status")).to_contain_text("Shared “Jones estate” with bob (read and change)")
        expect(dialog.locator("tr[data-user='bob']")).to_contain_text("Read and change")
        assert http.get(f"/cases/{cid}", headers=bob.headers).status_code == 200
        shot(page, "sharing")
        dialog.get_by_role("button", name="Stop sharing with bob").click()
        expect(dialog.locator("tr[data-user='bob']")).to_have_count(0)
        assert http.get(f"/cases/{cid}", headers=bob.headers).status_code == 404

        admin = log_in(contexts(), server.url, "root")
        admin.locator("#admin-users").click()
        users = admin.locator("#admin-dialog")
        users.get_by_label("User name", exact=True).fill("dave")
        users.get_by_label("Password", exact=True).fill("dave's long password")
        users.get_by_role("button", name="Add user").click()
        dave = users.locator("tr[data-user='dave']")
        expect(dave).to_contain_text("Active")

        def login(password: str) -> int:
            return httpx.post(f"{server.url}/auth/login", json={"username": "dave", "password": password},
                              timeout=30).status_code

        assert login("dave's long password") == 200
        dave.get_by_role("button", name="Disable dave").click()
        expect(dave).to_contain_text("Disabled")
        assert login("dave's long password") in (401, 403)  # refused (the accounts API says why)
        dave.get_by_role("button", name="Enable dave").click()
        expect(dave).to_contain_text("Active")
        dave.get_by_role("button", name="Reset the password of dave").click()
        dave.get_by_label("New password for dave").fill("a fresh long password")
        dave.get_by_label("New password for dave").press("Enter")
        expect(admin.locator("#admin-status")).to_have_text("New password set for dave; their sessions were ended.")
        assert login("a fresh long password") == 200
        shot(admin, "users")
        dave.get_by_role("button", name="Delete dave").click()
        admin.locator("dialog.confirm").get_by_role("button", name="Delete dave").click()
        expect(dave).to_have_count(0)
        assert login("a fresh long password") == 401


def test_schema_docs_page_makes_no_request_off_this_machine(server_factory: Callable[..., ServerProcess],
                                                           contexts: Contexts) -> None:
    server = server_factory(LEXINTEL_AUTH="on")
    page = contexts().new_page()
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlparse(request.url).hostname or request.url))
    page.goto(server.url + "/schema")
    expect(page.locator("#status")).to_have_text(re.compile(r"^\d+ operations\.$"))
    operation = page.locator("details.op", has=page.locator(".path", has_text=re.compile(r"^/cases/\{case_id\}$")))
    expect(operation.locator(".method", has_text="delete")).to_have_count(1)
    page.get_by_label("Filter operations").fill("setup")
    expect(page.locator("details.op:visible")).to_have_count(2)
    page.locator("details.op:visible summary").first.click()
    expect(page.locator("details.op[open]")).to_contain_text("Public: no credentials needed.")
    shot(page, "schema-docs")
    assert hosts and set(hosts) == {"127.0.0.1"}, hosts
