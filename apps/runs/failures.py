"""What a user reads when a run fails: the one place that turns an exception into plain words.

Known causes (an unreadable training copy, a run folder the worker cannot write) say what went wrong and what to
do; anything else is an internal error whose traceback goes to the worker's log. A run that had trained candidates
says so: their checkpoints stay in its folder, and Retry continues from them.
"""

import errno
from pathlib import Path

from .models import Run, RunEvent

INTERNAL_ERROR = "The search stopped on an internal error; the worker's log has the details."
TRAINING_COPY_UNREADABLE = "The dataset's training copy could not be read; upload the dataset again."
WRITE_FAILURES = {
    errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.EROFS: "the disk is read-only",
    errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
    errno.ENOTDIR: "part of its path is a file, not a folder", errno.EEXIST: "a file stands where the folder goes",
}


class TrainingCopyUnreadable(Exception):
    """Loading the dataset's training copy failed; the loader's exception is its __cause__."""


def run_failure_message(run: Run, error: BaseException) -> str:
    """What to tell the user about the exception that ended `run`."""
    reason = known_cause(error, work_dir=run.work_dir) or INTERNAL_ERROR
    trained = RunEvent.objects.filter(run=run, type="trial_finished").count()
    best = RunEvent.objects.filter(run=run, type="new_best").order_by("-seq").first()
    if not trained or best is None:
        return reason
    during = ("in the final training of its best candidate"
              if RunEvent.objects.filter(run=run, type="final_training_started").exists()
              else "while training candidates")
    accuracy = best.payload.get("val_accuracy")
    shown = f"{100 * accuracy:.1f}%" if accuracy is not None else "no score yet"
    kept = "Its trained candidate is kept" if trained == 1 else f"Its {trained} trained candidates are kept"
    return f"{reason.rstrip('.')} ({during}). {kept}, the best at {shown} on validation: Retry continues from them."


def known_cause(error: BaseException, *, work_dir: Path) -> str | None:
    """Plain words for a failure whose cause is known; None for an internal error."""
    if isinstance(error, TrainingCopyUnreadable):
        cause = error.__cause__
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"The worker could not load the dataset: {WRITE_FAILURES[cause.errno]}."
        return TRAINING_COPY_UNREADABLE
    if isinstance(error, OSError) and error.errno in WRITE_FAILURES and touches(error, work_dir):
        return f"The worker could not write to its run folder ({work_dir}): {WRITE_FAILURES[error.errno]}."
    return None


def touches(error: OSError, folder: Path) -> bool:
    """Whether the failed operation was on `folder`, on something in it, or on a folder above it (creating it)."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True  # a full disk is full for the run folder too, whichever file hit it first
    folder = Path(folder).resolve()
    for name in (error.filename, error.filename2):
        if name is None:
            continue
        path = Path(name).resolve()
        if path == folder or folder in path.parents or path in folder.parents:
            return True
    return False
