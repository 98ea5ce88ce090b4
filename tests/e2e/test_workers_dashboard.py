"""The run page of a run trained on several workers says how many it uses and which worker trained each candidate."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import screenshot
from .stored_runs import stored_run
from .test_dataset_upload import log_in

pytestmark = pytest.mark.e2e

# Alice's run on two workers: candidate 0 finished on gpu-a, candidates 1 and 2 training on each.
WORKER_EVENTS = """
def event(kind, at, **fields):
    run_event_store(run=run, event={"type": kind, "elapsed_seconds": at, "progress": at / 600,
                                    "eta_seconds": 600 - at, **fields})
def started(trial, worker, at):
    event("trial_started", at, trial_id=trial, worker=worker, genotype_summary=f"plain {16 * (trial + 1)}",
          genotype={}, epochs=5, params=1000 * (trial + 1), flops=1, latency_ms=0.5, size_mb=0.01, device="cpu")
started(0, "gpu-a:101", 5)
started(1, "gpu-b:202", 6)
event("trial_finished", 40, trial_id=0, val_accuracy=0.91, epochs=5, seconds=35, params=1000, flops=1,
      latency_ms=0.5, size_mb=0.01)
started(2, "gpu-a:101", 41)
"""


def test_the_run_page_says_which_worker_trained_each_candidate(app_server, page):
    url = app_server["url"]
    run_id = stored_run(app_server, WORKER_EVENTS, workers=2)
    log_in(page, url, "alice", PASSWORD)

    page.goto(f"{url}/runs/{run_id}/")
    expect(page.locator("#run-workers")).to_have_text("· 2 of up to 2 workers training")
    statuses = page.locator("#leaderboard tbody td:nth-child(7)")
    expect(statuses).to_have_count(3)
    assert sorted(text.split() for text in statuses.all_inner_texts()) == [
        ["finished", "on", "gpu-a:101"], ["running", "on", "gpu-a:101"], ["running", "on", "gpu-b:202"]]
    screenshot(page, "run-workers")
