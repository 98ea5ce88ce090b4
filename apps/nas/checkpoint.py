"""Files that let a killed search resume: run state, per-trial training checkpoints, the best candidate's state.

Layout under work_dir/search/:
    study.journal      the Optuna study (every trial's genotype, measurements, learning curve and outcome)
    state.json         seconds used so far and the phase ("search" or "final")
    trials/<n>.pt      the running trial's Trainer state after its last finished epoch
    best_trial.pt      Trainer state of the best candidate so far (exported as trained when there is no retrain)
    best.json          which trial that is and how it ranks, read and replaced under best.lock by every slot
    final.pt           the final retrain's Trainer state after its last finished epoch
Every write goes to a temporary file first and is moved into place with os.replace, so a kill never leaves a
torn file. Several processes may share the folder (trial slots, see apps.nas.slots): each writes its own
temporary files.
"""

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import torch
from optuna.storages.journal import JournalFileBackend, JournalStorage


def temporary_path(path: Path) -> Path:
    """A temporary name beside `path` that no other process or thread writing the same file uses."""
    return path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def save_torch_atomic(obj: object, path: Path) -> None:
    """torch.save through a temporary file, so readers see the old file or the new one, never half of one."""
    tmp = temporary_path(path)
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_json_atomic(obj: object, path: Path) -> None:
    """json.dump through a temporary file (see save_torch_atomic)."""
    tmp = temporary_path(path)
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def load_torch(path: Path) -> dict | None:
    """A checkpoint written by save_torch_atomic, or None when there is none."""
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


class SearchFiles:
    """The resumable state of one search in work_dir/search/."""

    def __init__(self, work_dir: str | Path):
        self.dir = Path(work_dir) / "search"
        (self.dir / "trials").mkdir(parents=True, exist_ok=True)
        self._state_path = self.dir / "state.json"
        self.best_trial_path = self.dir / "best_trial.pt"
        self.final_path = self.dir / "final.pt"

    def started(self) -> bool:
        """True when an earlier call already began this search (so this one resumes it)."""
        return (self.dir / "study.journal").exists() or self.started_marker.exists()

    def storage(self, url: str | None = None) -> optuna.storages.BaseStorage:
        """Optuna storage backed by an append-only journal file: every ask/report/tell survives a kill, and
        processes on one machine (or a shared folder) can share it. With a database URL (PostgreSQL, for workers on
        several machines), the study lives there, under this folder's name."""
        if url is None:
            return JournalStorage(JournalFileBackend(str(self.dir / "study.journal")))
        self.started_marker.touch()
        return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})

    @property
    def started_marker(self) -> Path:
        """Present once a search with its study in a database began (a journal file marks it by itself)."""
        return self.dir / "study.in-database"

    def state(self) -> dict:
        if not self._state_path.exists():
            return {"seconds_used": 0.0, "phase": "search"}
        return json.loads(self._state_path.read_text())

    def save_state(self, *, seconds_used: float, phase: str) -> None:
        save_json_atomic({"seconds_used": seconds_used, "phase": phase}, self._state_path)

    def trial_path(self, number: int) -> Path:
        return self.dir / "trials" / f"{number}.pt"

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock shared by every process of the search (slots, see apps.nas.slots): "best" while the
        best candidate is read and replaced, "stale" while a dead worker's trial is recorded and queued again."""
        with open(self.dir / f"{name}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def best_record(self) -> dict | None:
        """{"trial", "complete", "val_accuracy", "val_loss", "cv_accuracy"} of the kept best candidate
        (leaderboard.Standing's fields; a run from before cross-validation has no cv_accuracy), or None; read under
        lock("best")."""
        path = self.dir / "best.json"
        return json.loads(path.read_text()) if path.exists() else None

    def keep_as_best(self, number: int, standing: dict) -> None:
        """The trial's last checkpoint becomes the best candidate's state, with how it stands (leaderboard.Standing's
        fields); call under lock("best")."""
        os.replace(self.trial_path(number), self.best_trial_path)
        save_json_atomic({"trial": number, **standing}, self.dir / "best.json")

    def discard_trial(self, number: int) -> None:
        self.trial_path(number).unlink(missing_ok=True)

    def take_over_trial(self, dead: int, number: int) -> bool:
        """Move a dead worker's trial checkpoint to the trial that continues it; False when it had none."""
        try:
            os.replace(self.trial_path(dead), self.trial_path(number))
        except FileNotFoundError:
            return False
        return True
