"""The run page's numbers agree with each other: epochs done of the schedule the candidate is on, the model's size
where it says size, the time a stopped run took of its budget, and axes a person can read."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.fake_results import fake_result

from .conftest import screenshot
from .stored_runs import stored_run
from .test_dataset_upload import log_in

pytestmark = pytest.mark.e2e

# A 2-minute run stopped at 55 s: candidate 0 was drawn for 26 epochs, its schedule refitted to 30 after its first,
# and it was stopped after 3. Its network is right on all 150 test images.
STOPPED_EVENTS = """
def event(kind, at, **fields):
    run_event_store(run=run, event={"type": kind, "elapsed_seconds": at, "progress": at / 120,
                                    "eta_seconds": 120 - at, **fields})
event("trial_started", 1, trial_id=0, worker="", genotype_summary="plain 16", genotype={}, epochs=26, params=3400000,
      flops=1, latency_ms=0.5, size_mb=13.75, device="cpu")
for number in (1, 2, 3):
    event("epoch_finished", 10 * number, trial_id=0, phase="search", epoch=number, total_epochs=30, train_loss=0.5,
          train_accuracy=0.9, val_loss=0.3, val_accuracy=0.9, seconds=10.0)
event("trial_pruned", 40, trial_id=0, reason="cancelled", val_accuracy=0.9, epochs=3, seconds=39)
event("new_best", 40, trial_id=0, val_accuracy=0.9, genotype_summary="plain 16", params=3400000, latency_ms=0.5)
event("run_finished", 55, status="cancelled", best_trial_id=0, val_accuracy=0.9, test_accuracy=1.0, trials={},
      files={})
"""


def perfect_result() -> dict:
    result = fake_result(status="cancelled").to_dict()
    result["test_report"].update(accuracy=1.0, images=150, accuracy_low=0.975, accuracy_high=1.0)
    return result


def test_a_stopped_runs_numbers_agree_with_each_other(app_server, page):
    url = app_server["url"]
    run_id = stored_run(app_server, STOPPED_EVENTS, budget_seconds=120, original_budget_seconds=120,
                        status="cancelled", result=perfect_result())
    log_in(page, url, "alice", PASSWORD)

    page.goto(f"{url}/runs/{run_id}/")
    expect(page.locator("#run-progress")).to_have_text("Ended after 55 s of its 2 min 0 s budget")
    cells = page.locator("#leaderboard tbody tr").first.locator("td")
    expect(cells.nth(3)).to_have_text("13.75 MB")  # its size, as the headline counts it, not its 3.4 M parameters
    expect(cells.nth(5)).to_have_text("3/30")  # of the schedule it was on when it stopped
    # 100 of 100 is not "give or take 1": the interval can only go down.
    expect(page.locator("#result-words")).to_have_text(
        "Right 100 times out of 100 on 150 images it never saw: on images like these, at least 98.")
    assert page.evaluate("() => document.getElementById('chart-history').layout.xaxis.title.text") == "seconds"
    # Latencies of 0.5 ms: the axis spans 0.1 to 1 ms, so it has labelled ticks.
    assert page.evaluate("() => document.getElementById('chart-pareto').layout.xaxis.range") == [-1, 0]
    screenshot(page, "run-stopped-numbers")
