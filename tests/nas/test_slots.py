"""One search's candidates evaluated by several processes at once (apps.nas.slots): each slot a real process."""

import multiprocessing
import os
import threading
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from apps.nas.search import run_search, run_trial_slot
from apps.nas.slots import unfinished_reason
from apps.nas.state import BEST_POLL_SECONDS
from apps.nas.train import Trainer
from tests.nas.tiny_search import EventLog, journal, tiny_config

SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter, as on another worker
STALE_SECONDS = 3.0  # a dead worker is noticed within seconds


def slot_process(config, folder, work_dir, slot, events, epoch):
    """A slot in its own process; each of its events goes to `events`; `epoch`, when given, runs each epoch instead
    of Trainer.run_epoch, which it receives with the trainer."""
    if epoch is not None:
        run_epoch = Trainer.run_epoch
        Trainer.run_epoch = lambda trainer: epoch(run_epoch, trainer)
    run_trial_slot(config, folder, work_dir, slot=slot, worker=f"slot-{slot}", stale_seconds=STALE_SECONDS,
                   on_event=lambda event: events.put((slot, event["type"])))


class Slots:
    """open_slot for run_search: starts each slot as a process."""

    def __init__(self, config, folder, work_dir, *, epoch=None):
        self.args = (config, folder, work_dir)
        self.events = SPAWN.Queue()
        self.epoch = epoch
        self.processes = {}

    def __call__(self, slot: int) -> None:
        process = SPAWN.Process(target=slot_process, args=(*self.args, slot, self.events, self.epoch))
        process.start()
        self.processes[slot] = process

    def join(self) -> None:
        for process in self.processes.values():
            process.join(timeout=30)


def epoch_a_second_longer(run_epoch, trainer):
    time.sleep(1.0)
    return run_epoch(trainer)


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never came"
        time.sleep(0.05)


def epoch_once_another_slot_kept_a_best(markers: Path, run_epoch, trainer):
    """Says that this slot trains, ends only after another slot kept a best candidate (and a read of it is due), and
    reports that it took 1000 s: the rest of the candidate cannot finish in the search time."""
    (markers / "slot-1-training").touch()
    wait_for(markers / "best-kept")
    time.sleep(BEST_POLL_SECONDS)
    return replace(run_epoch(trainer), seconds=1000.0)


def by_slot(result) -> dict[int, list]:
    rows = {}
    for row in result.leaderboard:
        rows.setdefault(row.slot, []).append(row)
    return rows


def test_two_processes_train_one_searchs_candidates_at_once_and_the_best_of_all_wins(make_image_folder, tmp_path):
    folder, work_dir = make_image_folder(), tmp_path / "work"
    config = tiny_config(budget_seconds=30.0, workers=2)
    slots = Slots(config, folder, work_dir)
    started = time.monotonic()
    result = run_search(config, folder, work_dir, open_slot=slots, worker="slot-0")
    elapsed = time.monotonic() - started
    slots.join()

    rows = by_slot(result)
    assert set(rows) == {0, 1} and all(row.worker == f"slot-{slot}" for slot in rows for row in rows[slot])
    # Each slot trains while the other does: some of their candidates overlap in time.
    assert any(a.started_at < b.finished_at and b.started_at < a.finished_at
               for a in rows[0] for b in rows[1] if a.finished_at and b.finished_at)
    finished = [row for row in result.leaderboard if row.status == "complete"]
    assert result.best.trial_id == max(finished, key=lambda row: row.val_accuracy).id
    assert elapsed <= 1.25 * config.budget_seconds


def test_a_dead_workers_candidate_is_retried_and_the_search_finishes_without_it(make_image_folder, tmp_path):
    folder, work_dir = make_image_folder(), tmp_path / "work"
    config = tiny_config(budget_seconds=40.0, workers=2)
    slots = Slots(config, folder, work_dir, epoch=epoch_a_second_longer)

    def kill_after_its_first_epoch():
        while slots.events.get() != (1, "epoch_finished"):
            pass
        slots.processes[1].kill()

    threading.Thread(target=kill_after_its_first_epoch, daemon=True).start()
    log = EventLog()
    result = run_search(config, folder, work_dir, open_slot=slots, worker="slot-0", on_event=log,
                        stale_seconds=STALE_SECONDS)
    slots.join()

    [dead] = [row for row in result.leaderboard if row.slot == 1 and row.status == "failed"]
    assert "stopped answering" in dead.reason and dead.epochs == 0
    [retried] = [row for row in result.leaderboard if row.retry_of == dead.id]
    assert retried.slot == 0 and retried.genotype == dead.genotype
    [restart] = [event for event in log.of_type("trial_started") if event["trial_id"] == retried.id]
    assert restart["resumed_from_epoch"] == 1  # from the dead worker's checkpoint
    assert result.best is not None


class SimulatedKill(BaseException):
    """Like SIGKILL: no handler in the engine catches it."""


def killed_after_the_first_epoch(event: dict) -> None:
    if event["type"] == "epoch_finished":
        raise SimulatedKill


def test_a_resumed_coordinator_opens_its_slots_before_it_continues_its_candidate(make_image_folder, tmp_path):
    folder, work_dir = make_image_folder(), tmp_path / "work"
    config = tiny_config(budget_seconds=300.0, workers=2, max_trials=3)
    with pytest.raises(SimulatedKill):
        run_search(config, folder, work_dir, open_slot=lambda slot: None, on_event=killed_after_the_first_epoch)

    log, seen_when_opened = EventLog(), []
    run_search(config, folder, work_dir, open_slot=lambda slot: seen_when_opened.append(list(log)), on_event=log)

    [continued] = [event for event in log.of_type("trial_started") if event["resumed_from_epoch"]]
    [seen] = seen_when_opened
    assert seen[0]["resumed"] and not [event for event in seen if event["type"] == "trial_finished"]
    assert any(event["type"] == "trial_finished" and event["trial_id"] == continued["trial_id"] for event in log)


def test_a_slots_candidate_that_cannot_finish_stops_once_another_slot_has_a_trained_best(
        make_image_folder, tmp_path, monkeypatch):
    """One process stops a candidate whose epochs left do not fit in the search time, once it has a fully trained
    best; a slot that drew its candidate before any slot had one must stop it too, not train it to the end."""
    folder, work_dir, markers = make_image_folder(), tmp_path / "work", tmp_path
    config = tiny_config(budget_seconds=20.0, workers=2)
    slots = Slots(config, folder, work_dir, epoch=partial(epoch_once_another_slot_kept_a_best, markers))
    run_epoch = Trainer.run_epoch

    def after_slot_1_started_training(trainer):
        if slots.processes:
            wait_for(markers / "slot-1-training")
        return run_epoch(trainer)

    def note_the_best(event):
        if event["type"] == "new_best":
            (markers / "best-kept").touch()

    monkeypatch.setattr(Trainer, "run_epoch", after_slot_1_started_training)
    result = run_search(config, folder, work_dir, open_slot=slots, worker="slot-0", on_event=note_the_best)
    slots.join()

    first = min(by_slot(result)[1], key=lambda row: row.id)
    assert (first.status, first.reason, first.epochs) == (
        "interrupted", "it would not have finished in the time left", 1)


def with_long_steps(run_epoch, trainer):
    """run_epoch, saying it took a second, a second a step: the run plans to share its final training and keeps
    seconds for it, as for a large network (a tiny one's steps are too short to gain from it)."""
    return replace(run_epoch(trainer), seconds=1.0, images_per_second=trainer.batch_size / 1.0)


def note_shared_epochs(markers: Path, run_epoch, trainer):
    """with_long_steps, marking each epoch this slot trains in a final training's group."""
    stats = with_long_steps(run_epoch, trainer)
    if trainer.group is not None:
        (markers / f"shared-epoch-{trainer.epochs_done}").touch()
    return stats


def die_after_a_shared_epoch(run_epoch, trainer):
    stats = with_long_steps(run_epoch, trainer)
    if trainer.group is not None:
        os._exit(1)
    return stats


def final_group(work_dir: Path) -> dict:
    study = optuna.load_study(study_name="search", storage=journal(work_dir / "search" / "study.journal"))
    return study.user_attrs["final_group"]


def test_the_other_slot_trains_the_final_model_with_the_coordinator(make_image_folder, tmp_path, monkeypatch):
    folder, work_dir, markers = make_image_folder(), tmp_path / "work", tmp_path
    config = tiny_config(budget_seconds=30.0, workers=2)
    run_epoch = Trainer.run_epoch
    monkeypatch.setattr(Trainer, "run_epoch", lambda trainer: with_long_steps(run_epoch, trainer))
    slots = Slots(config, folder, work_dir, epoch=partial(note_shared_epochs, markers))
    log = EventLog()
    result = run_search(config, folder, work_dir, open_slot=slots, worker="slot-0", on_event=log)
    slots.join()

    assert final_group(work_dir)["members"] == [0, 1]
    final_epochs = [event for event in log.of_type("epoch_finished") if event["phase"] == "final"]
    assert len(final_epochs) > 0 and result.best.test_accuracy is not None
    assert sorted(marker.name for marker in markers.glob("shared-epoch-*")) == [
        f"shared-epoch-{epoch}" for epoch in range(1, len(final_epochs) + 1)]


def test_the_coordinator_finishes_the_final_training_alone_when_its_helper_dies(
        make_image_folder, tmp_path, monkeypatch):
    folder, work_dir = make_image_folder(), tmp_path / "work"
    config = tiny_config(budget_seconds=30.0, workers=2)
    run_epoch = Trainer.run_epoch
    monkeypatch.setattr(Trainer, "run_epoch", lambda trainer: with_long_steps(run_epoch, trainer))
    slots = Slots(config, folder, work_dir, epoch=die_after_a_shared_epoch)
    log = EventLog()
    started = time.monotonic()
    result = run_search(config, folder, work_dir, open_slot=slots, worker="slot-0", on_event=log)
    elapsed = time.monotonic() - started
    slots.join()

    assert final_group(work_dir)["members"] == [0, 1] and slots.processes[1].exitcode == 1
    # The helper died after their first epoch; the coordinator trained the next ones alone.
    final_epochs = [event["epoch"] for event in log.of_type("epoch_finished") if event["phase"] == "final"]
    assert final_epochs[:2] == [1, 2]
    assert result.best.test_accuracy is not None and elapsed <= 1.25 * config.budget_seconds
    assert not list(work_dir.glob("final-group-*")), "the meeting file outlived the group"


def running_trial(heartbeat: float) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(state=TrialState.RUNNING,
                                     user_attrs={"slot": 1, "worker": "gpu-2:4242", "heartbeat": heartbeat})


def test_a_candidate_still_running_when_the_run_ends_says_whether_its_worker_had_gone_silent():
    now, stale_seconds = 1000.0, 10.0  # heartbeats every 2.5 s

    silent = unfinished_reason(running_trial(heartbeat=now - 30), now, stale_seconds)
    training = unfinished_reason(running_trial(heartbeat=now - 1), now, stale_seconds)

    assert silent == "its worker (gpu-2:4242) stopped answering for 30 s; not retried: the search time is over"
    assert training == "its worker (gpu-2:4242) was still training it when the search time ran out"
