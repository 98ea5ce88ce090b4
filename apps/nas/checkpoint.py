"""Files that let a killed search resume: run state, per-trial training checkpoints, the best candidate's state.

Layout under work_dir/search/:
    study.journal      the Optuna study (every trial's genotype, measurements, learning curve and outcome)
    state.json         seconds used so far and the phase ("search" or "final")
    trials/<n>.pt      the running trial's Trainer state after its last finished epoch
    best_trial.pt      Trainer state of the best candidate so far (exported as trained when there is no retrain)
    final.pt           the final retrain's Trainer state after its last finished epoch
Every write goes to a temporary file first and is moved into place with os.replace, so a kill never leaves a
torn file.
"""

import json
import os
from pathlib import Path

import optuna
import torch
from optuna.storages.journal import JournalFileBackend, JournalStorage


def save_torch_atomic(obj: object, path: Path) -> None:
    """torch.save through a temporary file, so readers see the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_json_atomic(obj: object, path: Path) -> None:
    """json.dump through a temporary file (see save_torch_atomic)."""
    tmp = path.with_name(path.name + ".tmp")
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
        return (self.dir / "study.journal").exists()

    def storage(self) -> optuna.storages.BaseStorage:
        """Optuna storage backed by an append-only journal file: every ask/report/tell survives a kill."""
        return JournalStorage(JournalFileBackend(str(self.dir / "study.journal")))

    def state(self) -> dict:
        if not self._state_path.exists():
            return {"seconds_used": 0.0, "phase": "search"}
        return json.loads(self._state_path.read_text())

    def save_state(self, *, seconds_used: float, phase: str) -> None:
        save_json_atomic({"seconds_used": seconds_used, "phase": phase}, self._state_path)

    def trial_path(self, number: int) -> Path:
        return self.dir / "trials" / f"{number}.pt"

    def keep_as_best(self, number: int) -> None:
        """The trial's last checkpoint becomes the best candidate's state."""
        os.replace(self.trial_path(number), self.best_trial_path)

    def discard_trial(self, number: int) -> None:
        self.trial_path(number).unlink(missing_ok=True)
