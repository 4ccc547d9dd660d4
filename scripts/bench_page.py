"""Benchmark: the web page with a large case (issue 17): load time and the longest main-thread task.

A real ``lexintel serve`` (2 workers) gets a case of N tiny text files made through the API (10 of them empty,
so failed rows exist), then Debian's chromium (Playwright, headless) opens the page on that case and goes
through what a user does with it: pages forward and to the end, sorts by name both ways, filters by name and
status, shows 200 rows and scrolls them, searches. A ``PerformanceObserver`` for ``longtask`` entries (tasks
over 50 ms on the main thread) is installed before the page's own scripts run; the longest one and the count
are printed per step, with the page-load time (navigation start to the first page of rows drawn).

    python -m scripts.bench_page                  # 1,000 documents
    python -m scripts.bench_page --documents 5000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from scripts._benchlib import load_line
from tests.support import ServerProcess
from tests.support.webcase import make_case

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
OBSERVER = """
window.__longtasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longtasks.push(entry.duration);
}).observe({ type: "longtask", buffered: true });
"""


def _tasks(page: Page) -> list[float]:
    tasks: list[float] = page.evaluate("window.__longtasks.splice(0)")
    return tasks


def _wait_text(page: Page, selector: str, text: str) -> None:
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.textContent || '') === t", arg=[selector, text])


def _step(page: Page, name: str, results: list[tuple[str, float, int]], action: Any) -> None:
    _tasks(page)
    action()
    page.wait_for_timeout(300)  # let the page settle, so its tasks are counted in this step
    tasks = _tasks(page)
    results.append((name, max(tasks, default=0.0), len(tasks)))


def run(documents: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env={
            "LEXINTEL_AUTH": "off", "LEXINTEL_EXTRACTION_WORKERS": "2", "LEXINTEL_PROGRESS_INTERVAL": "0.25"}).start()
        try:
            started = time.perf_counter()
            case_id = make_case(server.url, "Benchmark case", documents, failed=10)
            print(f"made {documents:,} documents through the API in {time.perf_counter() - started:.1f} s")
            total = f"{documents:,}"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_init_script(OBSERVER)
                page = context.new_page()
                results: list[tuple[str, float, int]] = []
                page.goto(f"{server.url}/#case={case_id}")
                _wait_text(page, "#pager-text", f"1\u201350 of {total}")
                load_ms = page.evaluate("performance.now()")
                page.wait_for_timeout(500)
                tasks = _tasks(page)
                results.append(("load", max(tasks, default=0.0), len(tasks)))
                nav = page.get_by_role("navigation", name="Pages of documents")

                def pages() -> None:
                    for n in range(5):
                        nav.get_by_role("button", name="Next", exact=True).click()
                        _wait_text(page, "#pager-text", f"{50 * n + 51}\u2013{50 * n + 100} of {total}")
                    nav.get_by_role("button", name="Last", exact=True).click()
                    page.wait_for_function("t => document.querySelector('#pager-text').textContent.endsWith(t)",
                                           arg=f"{total} of {total}")
                    nav.get_by_role("button", name="First", exact=True).click()
                    _wait_text(page, "#pager-text", f"1\u201350 of {total}")

                def sort() -> None:
                    button = page.locator("#doc-table th[data-sort=filename] button")
                    button.click()
                    page.wait_for_selector("#doc-table th[data-sort=filename][aria-sort=ascending]")
                    button.click()
                    page.wait_for_selector("#doc-table th[data-sort=filename][aria-sort=descending]")

                def filters() -> None:
                    page.get_by_label("Name", exact=True).fill("memo-05")
                    _wait_text(page, "#pager-text", "1\u201350 of 100")
                    page.get_by_role("button", name="Clear filters").click()
                    page.get_by_label("Status").select_option(label="Failed")
                    _wait_text(page, "#pager-text", "1\u201310 of 10")
                    page.get_by_role("button", name="Clear filters").click()
                    _wait_text(page, "#pager-text", f"1\u201350 of {total}")

                def scroll() -> None:
                    page.get_by_label("Per page").select_option("200")
                    _wait_text(page, "#pager-text", f"1\u2013200 of {total}")
                    for _ in range(20):
                        page.mouse.wheel(0, 600)
                        page.wait_for_timeout(30)

                def search() -> None:
                    page.get_by_label("Words to find").fill("clause")
                    page.get_by_label("Words to find").press("Enter")
                    page.wait_for_selector("#hits li")

                for name, action in (("page through", pages), ("sort by name", sort), ("filter", filters),
                                     ("200 rows + scroll", scroll), ("search", search)):
                    _step(page, name, results, action)
                browser.close()
        finally:
            server.stop()
    print(f"page load (navigation start to the first {min(50, documents)} rows drawn): {load_ms:.0f} ms")
    print(f"{'step':<20} {'longest task':>13} {'long tasks':>11}")
    for name, longest, count in results:
        print(f"{name:<20} {longest:>10.0f} ms {count:>11}")
    print(f"largest long task overall: {max(r[1] for r in results):.0f} ms")
    print(load_line())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    args = parser.parse_args()
    run(args.documents)


if __name__ == "__main__":
    main()
