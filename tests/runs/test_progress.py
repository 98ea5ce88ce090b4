"""Every event is stored; frequent ones are published a few times a second, and the supernet's last one at once."""

import pytest

from apps.runs import progress
from apps.runs.models import Run, RunEvent


@pytest.fixture
def running_run(alice, ready_dataset):
    return Run.objects.create(team=ready_dataset.team, created_by=alice, dataset=ready_dataset, name="One-shot",
                              budget_seconds=300, original_budget_seconds=300, status="running", strategy="oneshot")


def supernet_progress(step: int, finished: bool = False) -> dict:
    return {"type": "supernet_progress", "elapsed_seconds": step / 100, "progress": 0.01, "eta_seconds": 100.0,
            "step": step, "total_steps": 60, "entropy": 0.9, "train_loss": 1.0, "finished": finished,
            "reason": "planned 60 steps done" if finished else "",
            "decisions": [{"name": "s0_width", "label": "Stage 1: width", "options": ["8", "16"],
                           "probabilities": [0.5, 0.5]}]}


def test_the_supernets_progress_is_stored_whole_and_published_sparingly_but_its_end_at_once(running_run,
                                                                                          monkeypatch):
    published = []
    monkeypatch.setattr(progress, "run_event_publish", lambda *, run, seq, event: published.append(event["step"]))
    receive = progress.RunProgress(running_run, clock=lambda: 100.0)  # every event within the same instant
    for step in (10, 20, 30, 40, 50):
        receive(supernet_progress(step))
    receive(supernet_progress(60, finished=True))

    assert list(RunEvent.objects.filter(run=running_run).values_list("payload__step", flat=True)) == [
        10, 20, 30, 40, 50, 60]
    assert published == [10, 60]


def test_events_another_process_stored_are_relayed_in_order_the_frequent_ones_coalesced(running_run, monkeypatch):
    published = []
    monkeypatch.setattr(progress, "run_event_publish", lambda *, run, seq, event: published.append(seq))
    child = progress.RunProgress(running_run, clock=lambda: 100.0)
    child({"type": "trial_started", "trial_id": 0})
    for step in (10, 20, 30):
        child(supernet_progress(step))
    child({"type": "trial_finished", "trial_id": 0})
    published.clear()  # what the child published went to its own process's layer, which no page reads

    last = progress.run_events_relay(run=running_run, after=0)

    assert published == [1, 4, 5] and last == 5
    assert progress.run_events_relay(run=running_run, after=last) == 5 and published == [1, 4, 5]
