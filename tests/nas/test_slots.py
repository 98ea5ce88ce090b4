"""One search's candidates evaluated by several processes at once (apps.nas.slots): each slot a real process."""

import multiprocessing
import threading
import time

import optuna
from optuna.trial import TrialState

from apps.nas.search import run_search, run_trial_slot
from apps.nas.slots import unfinished_reason
from apps.nas.train import Trainer
from tests.nas.tiny_search import EventLog, tiny_config

SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter, as on another worker
STALE_SECONDS = 3.0  # a dead worker is noticed within seconds


def slot_process(config, folder, work_dir, slot, events, slow_epochs):
    """A slot in its own process; each of its events goes to `events`; its epochs take a second longer."""
    if slow_epochs:
        run_epoch = Trainer.run_epoch

        def slow(trainer):
            time.sleep(1.0)
            return run_epoch(trainer)

        Trainer.run_epoch = slow
    run_trial_slot(config, folder, work_dir, slot=slot, worker=f"slot-{slot}", stale_seconds=STALE_SECONDS,
                   on_event=lambda event: events.put((slot, event["type"])))


class Slots:
    """open_slot for run_search: starts each slot as a process."""

    def __init__(self, config, folder, work_dir, *, slow_epochs=False):
        self.args = (config, folder, work_dir)
        self.events = SPAWN.Queue()
        self.slow_epochs = slow_epochs
        self.processes = {}

    def __call__(self, slot: int) -> None:
        process = SPAWN.Process(target=slot_process, args=(*self.args, slot, self.events, self.slow_epochs))
        process.start()
        self.processes[slot] = process

    def join(self) -> None:
        for process in self.processes.values():
            process.join(timeout=30)


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
    slots = Slots(config, folder, work_dir, slow_epochs=True)

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


def running_trial(heartbeat: float) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(state=TrialState.RUNNING,
                                     user_attrs={"slot": 1, "worker": "gpu-2:4242", "heartbeat": heartbeat})


def test_a_candidate_still_running_when_the_run_ends_says_whether_its_worker_had_gone_silent():
    now, stale_seconds = 1000.0, 10.0  # heartbeats every 2.5 s

    silent = unfinished_reason(running_trial(heartbeat=now - 30), now, stale_seconds)
    training = unfinished_reason(running_trial(heartbeat=now - 1), now, stale_seconds)

    assert silent == "its worker (gpu-2:4242) stopped answering for 30 s; not retried: the search time is over"
    assert training == "its worker (gpu-2:4242) was still training it when the search time ran out"
