"""The run page of a one-shot search shows the supernet's architecture weights, one bar chart per decision."""


import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import screenshot
from .stored_runs import stored_run
from .test_dataset_upload import log_in

pytestmark = pytest.mark.e2e

# The supernet of a running one-shot run has reported twice: undecided, then settled on the 5x5 kernel.
SUPERNET_EVENTS = """
def progress(step, kernel, width, finished):
    return {"type": "supernet_progress", "elapsed_seconds": step / 10, "progress": step / 1000, "eta_seconds": 500,
            "step": step, "total_steps": 100, "entropy": 0.5, "train_loss": 1.0, "finished": finished,
            "reason": "the architecture distribution settled early" if finished else "",
            "decisions": [{"name": "s0_op", "label": "Stage 1: block", "options": ["plain 3x3", "plain 5x5"],
                            "probabilities": kernel},
                          {"name": "s0_width", "label": "Stage 1: width", "options": ["16", "32"],
                            "probabilities": width},
                          {"name": "s1_width", "label": "Stage 2: width", "options": ["16"],
                            "probabilities": [1.0]}]}
run_event_store(run=run, event=progress(10, [0.5, 0.5], [0.5, 0.5], False))
run_event_store(run=run, event=progress(40, [0.1, 0.9], [0.3, 0.7], True))
"""


def test_the_run_page_shows_where_the_supernets_architecture_weights_went(app_server, page):
    url = app_server["url"]
    run_id = stored_run(app_server, SUPERNET_EVENTS, strategy="oneshot")
    log_in(page, url, "alice", PASSWORD)

    page.goto(f"{url}/runs/{run_id}/")
    expect(page.locator("#supernet")).to_be_visible()
    expect(page.locator("#supernet-status")).to_have_text(
        "Step 40 of 100 · undecided 50% · stopped: the architecture distribution settled early")
    charts = page.locator("#supernet-decisions .chart--decision")
    expect(charts).to_have_count(2)  # a decision with one option is no choice: no chart
    expect(charts.first).to_contain_text("Stage 1: block")
    bars = charts.first.locator(".bars .point path")
    expect(bars).to_have_count(2)
    heights = [box["height"] for box in (bars.nth(i).bounding_box() for i in range(2))]
    assert heights[1] > 5 * heights[0]  # 90% against 10%
    screenshot(page, "run-supernet")
