"""The web console in a real browser (headless Chromium, the Debian package, driven by
Playwright) against the local stack: a user asks for a large refund and watches the reply
stream; an approver approves it in a second browser context; the user's page shows the refund
completed without reloading. Screenshots: .artifacts/console/ (git-ignored)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".artifacts" / "console"
TIMEOUT_MS = 90_000


def chromium() -> str:
    """Debian's chromium (``make install`` installs it when missing)."""
    for candidate in (os.environ.get("AGENTOCORE_CHROMIUM"), "chromium", "chromium-browser"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    if os.environ.get("AGENTOCORE_SKIP_BROWSER") == "1":
        pytest.skip("AGENTOCORE_SKIP_BROWSER=1 and no chromium")
    raise AssertionError("chromium not found: `make chromium` installs Debian's package")


@pytest.fixture(scope="module")
def browser() -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), headless=True)
        yield launched
        launched.close()


def signed_in(browser: Any, base: str, user: str) -> Any:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(base + "/")
    page.get_by_test_id("signin-user").fill(user)
    page.get_by_test_id("signin-submit").click()
    page.get_by_test_id("connection-state").filter(has_text="live").wait_for()
    return page


def test_a_large_refund_is_approved_and_completes_live(browser, fronts):
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    user = signed_in(browser, fronts.api_url, "alice")
    user.get_by_test_id("new-conversation").click()
    user.get_by_test_id("message-input").fill("Refund order A-2002, it arrived broken")
    user.get_by_test_id("message-input").press("Enter")
    reply = user.get_by_test_id("assistant-reply")
    expect(reply).to_contain_text("approv", timeout=TIMEOUT_MS)
    action = user.get_by_test_id("action-status").first
    expect(action).to_have_attribute("data-status", "pending_approval", timeout=TIMEOUT_MS)
    expect(user.get_by_test_id("turn-usage").first).to_contain_text("tokens")
    user.screenshot(path=str(SHOTS / "1-user-waits-for-approval.png"), full_page=True)
    action_id = action.get_attribute("data-action-id")

    approver = signed_in(browser, fronts.api_url, "approver")
    approver.get_by_test_id("nav-approvals").click()
    row = approver.locator(f'[data-testid="approval-row"][data-approval-id="{action_id}"]')
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    expect(row).to_contain_text("A-2002")
    approver.screenshot(path=str(SHOTS / "2-approver-pending.png"), full_page=True)
    row.get_by_test_id("approval-reason").fill(f"checked the photos ({uuid.uuid4().hex[:6]})")
    row.get_by_test_id("approve").click()
    expect(row).to_have_count(0, timeout=TIMEOUT_MS)

    # the user's page, never reloaded: approved, then completed (the worker performed it)
    expect(action).to_have_attribute("data-status", "completed", timeout=TIMEOUT_MS)
    user.screenshot(path=str(SHOTS / "3-user-sees-it-completed.png"), full_page=True)
    assert user.errors == [] and approver.errors == []
    # nothing scrolls sideways on a laptop screen
    assert user.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    user.context.close()
    approver.context.close()


def test_the_console_is_usable_with_the_keyboard_alone(browser, fronts):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(fronts.api_url + "/")
    page.get_by_test_id("signin-user").wait_for()
    for _ in range(10):  # the skip link, then the form: Tab reaches the user field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.testid") == "signin-user":
            break
    else:
        raise AssertionError("Tab never reaches the sign-in field")
    page.keyboard.type("kbd-user")
    page.keyboard.press("Enter")
    page.get_by_test_id("connection-state").filter(has_text="live").wait_for()
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, textarea, select')].filter(
             e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).length"""
    )
    assert unlabelled == 0
    context.close()
