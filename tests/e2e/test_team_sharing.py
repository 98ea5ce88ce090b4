import re
import subprocess
import sys
import zipfile

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import screenshot
from .processes import REPO
from .test_dataset_upload import log_in

pytestmark = pytest.mark.e2e

CAST = f"""
from django.contrib.auth import get_user_model
from apps.accounts.services import membership_add, team_create
users = {{name: get_user_model().objects.create_user(username=name, password={PASSWORD!r})
         for name in ("alice", "bob", "charlie")}}
membership_add(team=team_create(name="Lab", owner=users["alice"]), user=users["bob"])
"""


def cast_create(app_server) -> None:
    """alice and bob in alice's Lab, charlie in none of theirs, made in the server's own database."""
    subprocess.run([sys.executable, "manage.py", "shell", "-c", CAST], cwd=REPO, env=app_server["env"], check=True,
                   capture_output=True, timeout=120)


def new_page(browser):
    return browser.new_context(viewport={"width": 1280, "height": 860}).new_page()


def test_teammates_follow_a_run_live_outsiders_cannot_and_a_link_shares_it_read_only(app_server, browser, tmp_path):
    url = app_server["url"]
    cast_create(app_server)
    alice, bob, charlie, stranger = (new_page(browser) for _ in range(4))
    for page, name in ((alice, "alice"), (bob, "bob"), (charlie, "charlie")):
        log_in(page, url, name, PASSWORD)

    alice.goto(url + "/datasets/")
    alice.locator(".team-switcher summary").click()
    alice.locator(".team-switcher__item", has_text="Lab").click()
    expect(alice.locator(".team-switcher__current")).to_have_text("Lab")
    alice.get_by_role("button", name="Try the sample dataset").click()
    expect(alice.get_by_role("link", name="Train a model on this")).to_be_visible(timeout=90_000)
    alice.get_by_role("link", name="Train a model on this").click()
    alice.get_by_text("Custom", exact=True).first.click()
    alice.get_by_label("Custom minutes").fill("0.5")
    alice.get_by_role("button", name="Start the search").click()
    expect(alice).to_have_url(re.compile(r"/runs/\d+/$"))
    run_url = alice.url

    bob.goto(run_url)
    bob.evaluate("window.loadedOnce = true")
    expect(bob.locator("#leaderboard tbody tr").first).to_be_visible(timeout=60_000)
    progress = bob.locator("#run-progress").inner_text()
    expect(bob.locator("#run-progress")).not_to_have_text(progress, timeout=30_000)
    assert bob.evaluate("window.loadedOnce"), "the page changed by itself, without reloading"
    screenshot(bob, "team-run-live")

    bob.get_by_label("Add a note for your team").fill("Looks **promising**: try a 5 minute budget next.")
    bob.get_by_role("button", name="Add note").click()
    expect(alice.locator("#notes-list")).to_contain_text("Looks promising", timeout=10_000)
    expect(alice.locator("#notes-list strong", has_text="promising")).to_be_visible()

    assert charlie.goto(run_url).status == 404
    assert charlie.goto(run_url.replace("/runs/", "/api/runs/")).status == 404

    expect(alice.locator("#result-words")).to_contain_text("times out of 100", timeout=180_000)
    alice.get_by_role("button", name="Create a share link").click()
    view_only = alice.locator("#share-url").input_value()
    alice.get_by_label("Allow downloading the model").check()
    alice.get_by_role("button", name="Create a share link").click()
    with_downloads = alice.locator("#share-url").input_value()
    assert view_only != with_downloads and "/share/" in view_only
    alice.locator("#share").scroll_into_view_if_needed()
    screenshot(alice, "team-run-shared")

    stranger.goto(view_only)
    expect(stranger.locator("#result-words")).to_contain_text("times out of 100", timeout=30_000)
    expect(stranger.locator("#leaderboard tbody tr").first).to_be_visible()
    expect(stranger.get_by_text("keeps the model files to itself")).to_be_visible()
    for control in ("#cancel-button", "[data-extend]", "#note-body", "#notes", "#try-image", "#share"):
        expect(stranger.locator(control)).to_have_count(0)
    expect(stranger.get_by_role("link", name="Log in")).to_be_visible()
    token = view_only.rstrip("/").rsplit("/", 1)[1]
    assert stranger.request.get(f"{url}/api/shared/{token}/artifacts/bundle/").status == 404
    screenshot(stranger, "shared-run")

    stranger.goto(with_downloads)
    expect(stranger.locator("#downloads li")).to_have_count(5, timeout=30_000)
    with stranger.expect_download() as download:
        stranger.get_by_role("link", name="Ready-to-run bundle (.zip)").click()
    download.value.save_as(tmp_path / "bundle.zip")
    with zipfile.ZipFile(tmp_path / "bundle.zip") as bundle:
        assert "predict.py" in bundle.namelist()

    alice.locator(".share-link", has_text="view only").get_by_role("button", name="Revoke").click()
    expect(alice.get_by_text("no longer works")).to_be_visible()
    assert stranger.goto(view_only).status == 404

    alice.get_by_role("link", name="Activity", exact=True).click()
    feed = alice.locator("#activity")
    for line in ("alice launched the run", "bob added a note to the run", "alice shared a read-only link",
                 "alice revoked a share link", "bob joined the team"):
        expect(feed).to_contain_text(line)
    screenshot(alice, "activity")


def test_someone_added_to_a_team_hears_of_it_on_their_next_page_and_switches_to_it_in_one_click(app_server, browser):
    url = app_server["url"]
    cast_create(app_server)
    alice, charlie = new_page(browser), new_page(browser)
    log_in(alice, url, "alice", PASSWORD)
    log_in(charlie, url, "charlie", PASSWORD)

    alice.goto(f"{url}/accounts/teams/")
    alice.get_by_role("link", name="alice's team").click()
    expect(alice.get_by_text("This is your personal team: only you can see it.")).to_be_visible()
    expect(alice.get_by_role("button", name="Add to team")).to_have_count(0)
    screenshot(alice, "team-personal")
    alice.get_by_role("link", name="Create a team").click()
    expect(alice.get_by_role("heading", name="Create a team")).to_be_visible()
    alice.get_by_role("link", name="Lab", exact=True).click()
    alice.get_by_label("Username").fill("charlie")
    alice.get_by_role("button", name="Add to team").click()
    expect(alice.locator('tr[data-member="charlie"]')).to_be_visible()

    charlie.goto(f"{url}/runs/")
    expect(charlie.get_by_role("status")).to_contain_text("alice added you to the team “Lab” as member")
    screenshot(charlie, "team-added-notice")
    charlie.get_by_role("button", name="Switch to “Lab”").click()
    expect(charlie.locator(".team-switcher__current")).to_have_text("Lab")
    expect(charlie.get_by_role("status")).to_have_count(0)  # told once
