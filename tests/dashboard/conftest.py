"""The browser fixtures of tests/dashboard (Chromium through Playwright), for every test in this folder."""

from tests.dashboard.browser import browser, open_page

__all__ = ["browser", "open_page"]
