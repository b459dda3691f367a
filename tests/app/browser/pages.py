"""What the browser tests share: chromium's path, the two screen sizes, a page that records
console errors, logging in, the sideways-scroll check, screenshots and axe-core's verdict."""

import os
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from tests.cloud.api.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
# DOLBOM_APP_SCREENSHOTS=docs/app: the test also saves the screenshots the README shows.
SHOTS = os.environ.get("DOLBOM_APP_SCREENSHOTS")


def _open(chromium: Browser, base_url: str, viewport: dict[str, int], lang: str) -> Page:
    context = chromium.new_context(viewport=viewport, locale=lang, base_url=base_url)  # type: ignore[arg-type]
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems  # type: ignore[attr-defined]
    return page


def _login(page: Page, username: str) -> None:
    page.goto("/app/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/")


def _fits(page: Page, width: int) -> bool:
    scroll: int = page.evaluate("document.documentElement.scrollWidth")
    return scroll <= width


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True, caret="initial")


_WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}
}


def _serious(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG 2.2 AA violations on the page, as 'rule: where'."""
    results = Axe().run(page, options=_WCAG)
    assert results.response["passes"], "axe-core ran no check"
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
