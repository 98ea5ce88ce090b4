"""The run page's buttons say what they can still do: time is added only up to the run's limit, which the page
states, and a stop shows at once, before the search has reached a point where it can stop."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import screenshot
from .stored_runs import stored_run
from .test_dataset_upload import log_in

pytestmark = pytest.mark.e2e


def test_extensions_stop_at_the_limit_and_a_stop_shows_at_once(app_server, page):
    url = app_server["url"]
    # 10 minutes, named as a run the user did not name: extensions may bring it to 20.
    run_id = stored_run(app_server, "", name="Parts · 10 min")
    log_in(page, url, "alice", PASSWORD)
    page.goto(f"{url}/runs/{run_id}/")
    five, fifteen = page.get_by_role("button", name="+5 min"), page.get_by_role("button", name="+15 min")
    expect(page.locator("#extend-limit")).to_contain_text("up to 20 min in all")
    expect(fifteen).to_be_disabled()  # 25 min would be over the limit
    expect(five).to_be_enabled()

    with page.expect_response("**/extend/"):
        five.click()
    expect(five).to_be_enabled()  # 15 min: one more fits
    with page.expect_response("**/extend/"):
        five.click()
    expect(five).to_be_disabled()  # at 20 min, nothing more fits
    expect(page.locator("#run-name")).to_have_text("Parts · 20 min")  # its name says its budget
    expect(page).to_have_title("Parts · 20 min · NASweb")

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response("**/cancel/"):
        page.get_by_role("button", name="Stop and keep the best").click()
        expect(page.locator("#run-status")).to_have_text("Stopping…")  # shown at once, not after the answer
        expect(page.get_by_role("button", name="Stop and keep the best")).to_be_disabled()
    page.reload()
    expect(page.locator("#run-status")).to_have_text("Stopping…")  # the stop was recorded, the search not yet over
    expect(page.get_by_role("button", name="Stop and keep the best")).to_be_disabled()
    screenshot(page, "run-stopping")
