import pytest
from playwright.sync_api import expect

from .conftest import screenshot, wait_for_text

pytestmark = pytest.mark.e2e


def test_a_newcomer_signs_up_sees_everything_running_and_logs_back_in(app_server, page):
    url = app_server["url"]
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("neural network")
    screenshot(page, "welcome")

    page.get_by_role("link", name="Start for free").click()
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password", exact=True).fill("inspect-every-part-42")
    page.get_by_label("Password confirmation").fill("inspect-every-part-42")
    screenshot(page, "signup")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, grace")
    expect(page.locator("#your-teams").get_by_text("grace's team")).to_be_visible()
    wait_for_text(page.locator('[data-check="live"]'), "connected")
    wait_for_text(page.locator('[data-check="worker"]'), "ready on", timeout=60)
    screenshot(page, "home")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".alert--error")).to_contain_text("correct username and password")
    screenshot(page, "login-error")

    page.get_by_label("Password").fill(app_server["demo_password"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, demo")


def test_pages_fit_a_phone_screen(app_server, browser):
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.goto(app_server["url"] + "/accounts/signup/")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing may scroll sideways"
    screenshot(page, "signup-phone")
    phone.close()
