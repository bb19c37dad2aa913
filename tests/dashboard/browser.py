"""Browser fixtures for the dashboard tests: Debian's Chromium driven by Playwright, fenced in to localhost.

Every page a test opens fails the test if it logs a console error or throws, and any
request to a host other than localhost is aborted and fails the test too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LOCAL = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Not per session: Playwright's sync API keeps an event loop
    running in this thread while it is open, and later tests call asyncio.run()."""
    missing = None
    if not os.access(CHROMIUM, os.X_OK):
        missing = f"{CHROMIUM} is missing (apt-get install -y chromium; .ci/run does it)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[test]')"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page plus what it did that it should not have: console errors, exceptions, off-site requests."""

    def __init__(self, context) -> None:
        self.context = context
        self.errors: list[str] = []
        self.forgiven: list[str] = []
        self.offsite: list[str] = []
        self.requests: list[str] = []
        context.route("**/*", self._route)
        self.page = context.new_page()
        self.page.on(
            "console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text} at {m.location}")
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"exception: {e}"))

    def _route(self, route) -> None:
        url = route.request.url
        self.requests.append(url)
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in LOCAL:
            route.continue_()
        else:
            self.offsite.append(url)
            route.abort()

    def forgive(self, pattern: str) -> None:
        """Accept errors matching `pattern`: the browser logs every 4xx answer, even an expected one."""
        self.forgiven.append(pattern)

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(re.search(p, e) for p in self.forgiven)]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def open_page(browser):
    """open_page(viewport=DESKTOP, color_scheme="light", locale="en-US", timezone_id="UTC") -> Watched, checked at
    teardown."""
    opened: list[Watched] = []

    def open_(viewport=DESKTOP, color_scheme="light", locale="en-US", timezone_id="UTC") -> Watched:
        context = browser.new_context(
            viewport=viewport, color_scheme=color_scheme, locale=locale, timezone_id=timezone_id, accept_downloads=True
        )
        watched = Watched(context)
        opened.append(watched)
        return watched

    yield open_
    for watched in opened:
        watched.context.close()
    for watched in opened:
        assert not watched.offsite, f"requests left localhost: {watched.offsite}"
        assert not watched.unexpected_errors(), f"the page reported errors: {watched.unexpected_errors()}"
