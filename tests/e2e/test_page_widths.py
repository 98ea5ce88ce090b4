"""Every page fits a phone's width and a laptop's: nothing makes the page scroll sideways, and at laptop width no
table hides columns behind a scroll bar of its own (at phone width a table may scroll inside its card)."""

import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import screenshot
from .processes import REPO
from .stored_runs import ALICES_RUN
from .test_dataset_upload import log_in
from .test_live_leaderboard import SMALL_VALIDATION_EVENTS

pytestmark = pytest.mark.e2e

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}

# Alice's running run (with its candidates) and a finished run of the same dataset, shared by a link. Prints the ids
# of the dataset, the team, the running run and the finished run, and the link's token.
ALICES_PAGES = f"""
RUN_FIELDS = {{}}
{ALICES_RUN}
{SMALL_VALIDATION_EVENTS}
from tests.fake_results import fake_result
finished = Run.objects.create(team=team, created_by=alice, dataset=dataset, name="Parts, pretrained", budget_seconds=60,
                              original_budget_seconds=60, status="finished",
                              result=fake_result(pretrained=True).to_dict())
from apps.runs.services import share_link_create
_, token = share_link_create(run=finished, user=alice)
print(dataset.pk, team.pk, run.pk, finished.pk, token)
"""

TABLES_HIDING_COLUMNS = """() => [...document.querySelectorAll('table')]
    .filter(table => table.getBoundingClientRect().width > 0)
    .filter(table => table.parentElement.scrollWidth > table.parentElement.clientWidth + 1)
    .map(table => table.id || table.className)"""


def test_every_page_fits_a_phone_and_a_laptop_without_sideways_scrolling(app_server, browser):
    url = app_server["url"]
    stored = subprocess.run([sys.executable, "manage.py", "shell", "-c", ALICES_PAGES], cwd=REPO,
                            env=app_server["env"], check=True, capture_output=True, text=True, timeout=120)
    dataset, team, running, finished, token = stored.stdout.split()[-5:]
    report = sample_report(browser, url)
    pages = {
        "home": "/", "datasets": "/datasets/", "dataset": f"/datasets/{dataset}/", "report": report,
        "upload": "/datasets/new/", "runs": "/runs/", "new-run": f"/runs/new/?dataset={dataset}",
        "run-running": f"/runs/{running}/",
        "run-finished": f"/runs/{finished}/", "compare": f"/runs/compare/?run={running}&run={finished}",
        "teams": "/accounts/teams/", "team": f"/accounts/teams/{team}/", "tokens": "/accounts/tokens/",
        "activity": "/activity/",
    }
    too_wide = []
    for width_name, viewport in (("phone", PHONE), ("laptop", LAPTOP)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        for name, path in (("login", "/accounts/login/"), ("signup", "/accounts/signup/"),
                           ("shared", f"/share/{token}/")):
            page.goto(url + path)
            too_wide += wider_than(page, f"{name} at {width_name}", viewport["width"])
            screenshot(page, f"width-{name}-{width_name}")
        log_in(page, url, "alice", PASSWORD)
        for name, path in pages.items():
            page.goto(url + path)
            page.wait_for_load_state("networkidle")
            if name == "new-run":
                page.get_by_text("Advanced").click()  # its image sizes must fit too
            too_wide += wider_than(page, f"{name} at {width_name}", viewport["width"])
            if viewport is LAPTOP:
                too_wide += [f"{name} at laptop: table {table} hides columns"
                             for table in page.evaluate(TABLES_HIDING_COLUMNS)]
            screenshot(page, f"width-{name}-{width_name}")
        context.close()
    assert not too_wide


def sample_report(browser, url: str) -> str:
    """The path of the page of a sample dataset added to alice's team, with the report NASweb wrote when it ingested
    it. Her team has data already, so the datasets page offers no sample button: its form is posted as it would."""
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    log_in(page, url, "alice", PASSWORD)
    page.goto(url + "/datasets/")
    token = page.locator('input[name="csrfmiddlewaretoken"]').first.input_value()
    added = page.request.post(url + "/datasets/sample/", form={"csrfmiddlewaretoken": token},
                              headers={"Referer": url + "/datasets/"})
    page.goto(added.url)
    expect(page.get_by_role("heading", name="What NASweb found")).to_be_visible(timeout=90_000)
    path = urlsplit(page.url).path
    context.close()
    return path


def wider_than(page, where: str, width: int) -> list[str]:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    return [f"{where}: {scroll_width} px wide"] if scroll_width > width else []
