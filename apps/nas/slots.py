"""Trial slots: several processes evaluating one search's candidates at the same time.

A run's coordinator (run_search with SearchConfig.workers > 1) prepares the search, asks its caller to start the
other slots once its strategy has queued its start points, evaluates candidates in slot 0 itself, waits for the
other slots' last candidates, then ends the run alone (final training, test, export). Each other slot is a call of
run_trial_slot in another process, on this machine or another one that shares the run's work_dir and the study's
storage. The study is the slots' ledger: Optuna hands each trial to one slot, and TPE's constant liar keeps slots
from proposing the same candidate while others train.

A slot marks its running trial with a heartbeat HEARTBEATS_BEFORE_STALE times per stale_seconds (STALE_SECONDS
unless the caller says). A trial whose heartbeat is older than that belongs to a dead worker: the first slot to
notice records it as failed, with the reason, and queues it again (at most MAX_RETRIES times), to continue from
its last epoch checkpoint.
"""

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from apps.nas import events

STALE_SECONDS = 45.0
HEARTBEATS_BEFORE_STALE = 4
MAX_RETRIES = 3
# Slot k's strategy is seeded with seed + k * SLOT_SEED_STRIDE: slots started together must not propose alike.
SLOT_SEED_STRIDE = 7919
# The coordinator checks this often whether the other slots' last candidates have ended.
SLOTS_POLL_SECONDS = 1.0


class TrialHeartbeat:
    """Writes the time into a running trial's "heartbeat" attribute every `seconds`, from a thread, while the trial
    trains (a `with` block)."""

    def __init__(self, trial: optuna.Trial, seconds: float):
        self.trial = trial
        self.seconds = seconds
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-trial-{trial.number}")

    def __enter__(self) -> "TrialHeartbeat":
        self.trial.set_user_attr("heartbeat", time.time())
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.thread.join()

    def _beat(self) -> None:
        while not self.stopping.wait(self.seconds):
            try:
                self.trial.set_user_attr("heartbeat", time.time())
            except UpdateFinishedTrialError:  # told between the wait and the write: nothing left to mark
                return


def other_slots_running(study: optuna.Study) -> list[FrozenTrial]:
    """Running trials of the other slots (1, 2, ...). Slot 0's are the coordinator's: its next attempt continues
    them in place."""
    return [trial for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if trial.user_attrs.get("slot", 0) > 0]


def silent_seconds(trial: FrozenTrial, now: float) -> float:
    """Seconds since the trial's last heartbeat."""
    return now - trial.user_attrs.get("heartbeat", now)


def stale_trials(study: optuna.Study, now: float, stale_seconds: float) -> list[FrozenTrial]:
    """Running trials of the other slots whose heartbeat stopped."""
    return [trial for trial in other_slots_running(study) if silent_seconds(trial, now) > stale_seconds]


def worker_name(trial: FrozenTrial) -> str:
    return trial.user_attrs.get("worker") or f"slot {trial.user_attrs['slot']}"


def stale_reason(trial: FrozenTrial, retried: bool, stale_seconds: float) -> str:
    """Plain words for the leaderboard."""
    then = "queued again, to continue from its last checkpoint" if retried else (
        f"not retried: it was tried {MAX_RETRIES + 1} times, or the search time is over")
    return f"its worker ({worker_name(trial)}) stopped answering for {stale_seconds:.0f} s; {then}"


def unfinished_reason(trial: FrozenTrial, now: float, stale_seconds: float) -> str:
    """Plain words for a slot's candidate still running when the run ends: its worker either stopped answering
    (missed two heartbeats) or was still training it."""
    silent = silent_seconds(trial, now)
    if silent > 2 * stale_seconds / HEARTBEATS_BEFORE_STALE:
        return (f"its worker ({worker_name(trial)}) stopped answering for {silent:.0f} s; not retried: the search "
                "time is over")
    return f"its worker ({worker_name(trial)}) was still training it when the search time ran out"


def retry_of(trial: optuna.Trial) -> int | None:
    """The number of the dead worker's trial this one continues, or None."""
    return trial.user_attrs.get("retry_of")


def retry(study: optuna.Study, dead: FrozenTrial) -> None:
    """Queue the dead worker's candidate again; the slot that takes it continues from its checkpoint."""
    study.enqueue_trial(dead.params, user_attrs={
        "retry_of": dead.number, "retries": dead.user_attrs.get("retries", 0) + 1,
    })


def can_retry(dead: FrozenTrial) -> bool:
    return dead.user_attrs.get("retries", 0) < MAX_RETRIES


class SlotLedger:
    """What a search's slots record of each other's candidates in the study: a dead worker's is failed and queued
    again while retries and search time are left; those still running when the coordinator ends the run are failed
    with why. Every slot checks for dead workers between its candidates, the coordinator at the end too."""

    def __init__(self, study: optuna.Study, *, tell: Callable[[optuna.Trial, str], None],
                 emit: Callable[[events.Event], None], lock: Callable[[], AbstractContextManager],
                 stale_seconds: float):
        """Args: the search's study; tell: its strategy's (so that the strategy learns of the failure); emit: the
        run's way out for events; lock: a lock across the run's processes; stale_seconds: see STALE_SECONDS."""
        self.study = study
        self.tell = tell
        self.emit = emit
        self.lock = lock
        self.stale_seconds = stale_seconds

    def retry_stale(self, *, search_over: Callable[[], bool]) -> None:
        """Record the candidates of dead workers as failed, and queue them again while retries and search time
        (until `search_over()`) are left."""
        stale = stale_trials(self.study, time.time(), self.stale_seconds)
        if not stale:
            return
        with self.lock():
            for dead in stale:
                again = can_retry(dead) and not search_over()
                if self.fail(dead, stale_reason(dead, again, self.stale_seconds)) and again:
                    retry(self.study, dead)

    def wait_for_others(self, *, keep_waiting: Callable[[], bool], search_over: Callable[[], bool]) -> None:
        """The coordinator's wait, after its search, for the other slots' last candidates while `keep_waiting()`
        (failing those of dead workers), so that the run ends with the best of them all; those still running then
        are failed."""
        while keep_waiting():
            self.retry_stale(search_over=search_over)
            if not self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                break
            time.sleep(SLOTS_POLL_SECONDS)
        self.fail_unfinished()

    def fail_unfinished(self) -> None:
        """Record the other slots' candidates still running as failed, with why: a finished run lists no candidate
        as running."""
        with self.lock():
            for frozen in other_slots_running(self.study):
                self.fail(frozen, unfinished_reason(frozen, time.time(), self.stale_seconds))

    def fail(self, frozen: FrozenTrial, reason: str) -> bool:
        """Record another slot's running candidate as failed, and report it; False when it was told meanwhile (by
        its own slot, or by another one that noticed it first)."""
        trial = optuna.trial.Trial(self.study, frozen._trial_id)
        try:
            trial.set_user_attr("reason", reason)
            self.tell(trial, "failed")
        except (UpdateFinishedTrialError, ValueError):
            return False
        self.emit(events.TrialFailed(trial_id=frozen.number, reason=reason,
                                     seconds=time.time() - frozen.user_attrs["started_at"]))
        return True
