"""Every open tab's case switcher follows renames, deletions, new cases and shares live (issue 17: "delete and
rename update every open tab live"), in Debian's chromium through Playwright against a real server with accounts.

The tabs are not on the case that changes: another person who has it shared with them, the same person on another
case, an admin with no case open. The tab that has the case open shows its deletion once, whether it hears of it on
its stream, from admin.js in this browser, or both (the page no longer reloads itself for it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.auth_helpers import Account, log_in_page
from tests.ci_helpers import BROWSER_FLAGS, import_or_missing
from tests.support import ServerProcess

import_or_missing("playwright.sync_api", "pip install playwright", BROWSER_FLAGS)  # fail or skip before the import
from playwright.sync_api import BrowserContext, Page, expect  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
Contexts = Callable[[], BrowserContext]


def log_in(context: BrowserContext, url: str, name: str, hash_: str = "") -> Page:
    page: Page = log_in_page(context, url, name, lambda p: expect(p.locator("#who-name")).to_have_text(name), hash_)
    return page


def option(page: Page, case_id: str) -> Any:
    return page.locator(f"#case-select option[value='{case_id}']")


def live(page: Page, case_id: str) -> None:
    """The tab has the case open and its stream connected."""
    expect(page.locator("#case-select")).to_have_value(case_id)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def test_tabs_on_other_cases_follow_renames_deletions_and_shares(
        accounts_server: tuple[ServerProcess, dict[str, Account]], contexts: Contexts) -> None:
    server, acc = accounts_server
    alice, bob = acc["alice"], acc["bob"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        def case(who: Account, name: str) -> str:
            resp = http.post("/cases", json={"name": name}, headers=who.headers)
            assert resp.status_code == 201, resp.text
            return str(resp.json()["id"])

        alpha, shared, own = case(alice, "Alpha"), case(alice, "Shared matter"), case(bob, "Bob's own")
        assert http.post(f"/cases/{shared}/shares", json={"user": "bob"}, headers=alice.headers).status_code == 201

        bob_on_own = log_in(contexts(), server.url, "bob", f"#case={own}")  # another person, on another case
        live(bob_on_own, own)
        bob_no_case = bob_on_own.context.new_page()  # the same person, a second tab with no case open
        bob_no_case.goto(f"{server.url}/")
        expect(bob_no_case.locator("#case-panel")).to_be_visible()
        alice_on_alpha = log_in(contexts(), server.url, "alice", f"#case={alpha}")  # the owner, on another case
        live(alice_on_alpha, alpha)
        admin = log_in(contexts(), server.url, "root")  # an admin with no case open
        expect(admin.locator("#case-panel")).to_be_visible()
        tabs = [bob_on_own, bob_no_case, alice_on_alpha, admin]
        for tab in tabs:
            expect(option(tab, shared)).to_have_text("Shared matter")

        # a rename made through the API by the owner: every list follows, without a reload
        marker = "window.__notReloaded = true"
        for tab in tabs:
            tab.evaluate(marker)
        assert http.patch(f"/cases/{shared}", json={"name": "Shared matter (appeal)"},
                          headers=alice.headers).status_code == 200
        for tab in tabs:
            expect(option(tab, shared)).to_have_text("Shared matter (appeal)")
        live(bob_on_own, own)  # still on their own case
        expect(bob_on_own.locator("#case-title")).to_have_text("Bob's own")

        # a new case, then shared with bob: it appears in bob's tabs (and the admin's), not before it is shared
        fresh = case(alice, "Fresh matter")
        expect(option(admin, fresh)).to_have_text("Fresh matter")
        expect(option(alice_on_alpha, fresh)).to_have_text("Fresh matter")
        expect(option(bob_no_case, fresh)).to_have_count(0)
        assert http.post(f"/cases/{fresh}/shares", json={"user": "bob"}, headers=alice.headers).status_code == 201
        for tab in (bob_on_own, bob_no_case):
            expect(option(tab, fresh)).to_have_text("Fresh matter")
        shot(bob_no_case, "case-list-shared")
        assert http.delete(f"/cases/{fresh}/shares/bob", headers=alice.headers).status_code == 204
        for tab in (bob_on_own, bob_no_case):
            expect(option(tab, fresh)).to_have_count(0)
        expect(option(admin, fresh)).to_have_count(1)

        # the deletion: gone from every list; nobody who had another case (or none) open is told anything
        assert http.delete(f"/cases/{shared}", headers=alice.headers).status_code == 204
        for tab in tabs:
            expect(option(tab, shared)).to_have_count(0)
            expect(tab.locator("#notice")).to_be_hidden()
            assert tab.evaluate("window.__notReloaded === true")
        live(bob_on_own, own)
        live(alice_on_alpha, alpha)
        shot(alice_on_alpha, "case-list-after-delete")


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def deletion_notices(page: Page) -> int:
    """How many visible places on the page say that a case was deleted."""
    return int(page.evaluate("""() => [...document.querySelectorAll('body *')].filter((node) =>
        node.children.length === 0 && node.offsetParent !== null && /was deleted/.test(node.textContent)).length"""))


def test_the_tab_on_a_deleted_case_says_so_once(accounts_server: tuple[ServerProcess, dict[str, Account]],
                                                contexts: Contexts) -> None:
    server, acc = accounts_server
    alice = acc["alice"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        ids = [str(http.post("/cases", json={"name": name}, headers=alice.headers).json()["id"])
               for name in ("Doomed v Gone", "Doomed again", "Keeper")]
        doomed, again, keeper = ids
        assert http.post(f"/cases/{doomed}/shares", json={"user": "bob"}, headers=alice.headers).status_code == 201

        # another person's tab on the case: it hears the deletion on its case stream only
        bob = log_in(contexts(), server.url, "bob", f"#case={doomed}")
        live(bob, doomed)
        bob.evaluate("window.__notReloaded = true")
        assert http.delete(f"/cases/{doomed}", headers=alice.headers).status_code == 204
        expect(bob.locator("#notice")).to_have_text("The case “Doomed v Gone” was deleted.")
        expect(bob.locator("#workspace")).to_be_hidden()
        expect(bob.locator("#case-panel")).to_be_visible()
        expect(option(bob, doomed)).to_have_count(0)
        assert deletion_notices(bob) == 1
        assert bob.evaluate("window.__notReloaded === true") and "case=" not in bob.url

        # the owner deletes it through the Cases dialog in a tab that has it open, with a second tab of the same
        # browser on it too: each hears it twice (its stream, and admin.js here or over the BroadcastChannel)
        # and says it once, without reloading itself
        deleting = log_in(contexts(), server.url, "alice", f"#case={again}")
        live(deleting, again)
        other_tab = deleting.context.new_page()
        other_tab.goto(f"{server.url}/#case={again}")
        live(other_tab, again)
        for tab in (deleting, other_tab):
            tab.evaluate("window.__notReloaded = true")
        deleting.locator("#admin-cases").click()
        dialog = deleting.locator("#admin-dialog")
        dialog.get_by_role("button", name="Delete Doomed again").click()
        deleting.locator("dialog.confirm").get_by_role("button", name="Delete “Doomed again” and 0 documents").click()
        expect(deleting.locator("#admin-status")).to_have_text("Deleted the case “Doomed again” and 0 documents.")
        for tab in (deleting, other_tab):
            expect(tab.locator("#notice")).to_have_text("The case “Doomed again” was deleted.")
            expect(tab.locator("#workspace")).to_be_hidden()
            expect(option(tab, again)).to_have_count(0)
            expect(option(tab, keeper)).to_have_text("Keeper")
            expect(tab.locator("#admin-notice")).to_have_count(0)  # admin.js's own fallback did not run
            assert tab.evaluate("window.__notReloaded === true")
        deleting.keyboard.press("Escape")  # close the dialog: one notice on the page itself
        expect(dialog).to_be_hidden()
        for tab in (deleting, other_tab):
            assert deletion_notices(tab) == 1
        shot(other_tab, "case-deleted-once")

        # the tab is not stuck: it follows the list with no case open, and opens another case
        renamed = http.patch(f"/cases/{keeper}", json={"name": "Keeper, renamed"}, headers=alice.headers)
        assert renamed.status_code == 200
        expect(option(other_tab, keeper)).to_have_text("Keeper, renamed")
        other_tab.locator("#case-select").select_option(keeper)
        other_tab.locator("#open-case button[type=submit]").click()
        live(other_tab, keeper)
        expect(other_tab.locator("#case-title")).to_have_text("Keeper, renamed")
