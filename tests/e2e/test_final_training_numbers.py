"""The final training's epoch count agrees between the log and the panel when it is planned again from its own
speed (apps.nas.final.retrain lengthens or shortens it)."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .stored_runs import stored_run
from .test_dataset_upload import log_in

pytestmark = pytest.mark.e2e

# Candidate 0 trained 10 epochs; its final training was planned for 30 and, after its first epoch, for 34.
LENGTHENED_FINAL_EVENTS = """
def event(kind, at, **fields):
    run_event_store(run=run, event={"type": kind, "elapsed_seconds": at, "progress": at / 600,
                                    "eta_seconds": 600 - at, **fields})
event("trial_started", 1, trial_id=0, worker="", genotype_summary="plain 16 · 10 ep", genotype={}, epochs=10,
      params=1000, flops=1, latency_ms=0.5, size_mb=0.01, device="cpu")
event("trial_finished", 60, trial_id=0, val_accuracy=0.9, epochs=10, seconds=59, params=1000, flops=1,
      latency_ms=0.5, size_mb=0.01)
event("new_best", 60, trial_id=0, val_accuracy=0.9, genotype_summary="plain 16 · 10 ep", params=1000,
      latency_ms=0.5)
event("final_training_started", 61, trial_id=0, name="small network from scratch", genotype_summary="plain 16 · 30 ep",
      retrain=True, epochs=30, reason="retraining it on training + validation images for 30 epochs")
for number in range(1, 35):
    event("epoch_finished", 61 + number, trial_id=0, phase="final", epoch=number,
          total_epochs=30 if number == 1 else 34, train_loss=0.5, train_accuracy=0.9, val_loss=None,
          val_accuracy=None, seconds=1.0)
"""


def test_a_final_training_planned_again_says_so_and_counts_alike_in_the_log_and_the_panel(app_server, page):
    url = app_server["url"]
    run_id = stored_run(app_server, LENGTHENED_FINAL_EVENTS)
    log_in(page, url, "alice", PASSWORD)

    page.goto(f"{url}/runs/{run_id}/")
    expect(page.locator("#log")).to_contain_text("Final training done after 34 epochs: lengthened from the 30 first "
                                                 "planned")
    expect(page.locator("#current-trial")).to_contain_text("epoch 34 of 34")
    # Its plain name, not the settings with their 30 planned epochs.
    expect(page.locator("#current-trial")).to_have_text(
        "Final model (candidate 0, small network from scratch), epoch 34 of 34 on all training images")
