"""What a worker does with a run: claim it, keep its lease alive, run the engine, store what it produced; or, as
one of its other slots (Run.workers > 1), evaluate its candidates beside the worker that coordinates it.

Only workers import this module: it loads PyTorch, which the web process never needs.
"""

import logging
import resource
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import torch
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.datasets.processing import dataset_training_load
from apps.nas import BudgetTooSmall, Constraints, DatasetError, LeaseLost, SearchConfig, SearchFailed, run_search
from apps.nas.names import ARTIFACT_FILES
from apps.nas.search import run_trial_slot
from apps.nas.space import SearchSpace
from nasweb.workers import FROZEN_TRANSACTION_SECONDS, postgres_url, worker_identity

from .failures import TrainingCopyUnreadable, run_failure_message
from .gpus import worker_device
from .models import RUN_BEST_FIELDS, Run, RunSlot
from .progress import RunProgress, run_status_publish

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10
# A coordinator reads its run's cancel and budget this often: "Stop" is seen within about a second.
CANCEL_POLL_SECONDS = 1.0
# A lease not renewed for its time less this share of it may have run out: the owner stops before anyone can take it.
LEASE_MARGIN_SHARE = 0.25


def worker_memory() -> dict:
    """Peak memory of this worker process (and of its GPU), in MB, for the dashboard."""
    memory = {"memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}  # ru_maxrss is in KB
    if torch.cuda.is_available():
        memory["gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return memory


def run_claim(*, run_id: int, worker: str) -> Run | None:
    """Take a queued run, atomically; None when it is not queued (finished, cancelled or taken by another)."""
    now = timezone.now()
    claimed = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED, cancel_requested=False).update(
        status=Run.Status.RUNNING, worker=worker, attempts=F("attempts") + 1, heartbeat_at=now,
        lease_expires=now + timedelta(seconds=settings.NASWEB_LEASE_SECONDS), started=Coalesce("started", Value(now)),
    )
    return Run.objects.get(pk=run_id) if claimed else None


class RunLease(threading.Thread):
    """Keeps a claimed run's lease alive and brings back what users changed (cancel, extension).

    It is also the engine's SearchControl: the engine polls cancelled() and budget_seconds(), and those answer from
    what the thread last read, so the engine never waits on the database. Once the lease may have run out (no
    renewal for the lease's time less a margin, on a clock that runs on while the process is paused), or another
    worker holds the run, cancelled() raises LeaseLost: the engine stops and writes nothing more.
    """

    def __init__(self, run: Run, worker: str, clock: Callable[[], float] = time.monotonic):
        super().__init__(daemon=True, name=f"lease-run-{run.pk}")
        self.run_id, self.worker, self.attempt = run.pk, worker, run.attempts
        self.budget = run.budget_seconds
        self.cancel_requested = run.cancel_requested
        self.lost = False  # another worker holds the run, or it was re-queued: for good
        self.clock = clock
        self.renewed_at = clock()  # run_claim took the lease just now
        self.stopping = threading.Event()

    def run(self) -> None:
        from django.db import connection

        renew_every = min(HEARTBEAT_SECONDS, settings.NASWEB_LEASE_SECONDS / 3)
        try:
            while not self.stopping.wait(CANCEL_POLL_SECONDS):
                try:
                    if self.clock() - self.renewed_at >= renew_every:
                        self.beat()
                    else:
                        self.read_requests()
                except DatabaseError:  # owns() turns false if this lasts; the next turn tries again
                    logger.warning("run %s: could not reach the database to renew its lease", self.run_id)
                    connection.close()
        finally:
            connection.close()

    def beat(self) -> None:
        """Renew the lease, if this worker still holds it, and read what users changed."""
        now, renewing = timezone.now(), self.clock()
        renewed = Run.objects.filter(pk=self.run_id, worker=self.worker, attempts=self.attempt,
                                     status=Run.Status.RUNNING).update(
            heartbeat_at=now, lease_expires=now + timedelta(seconds=settings.NASWEB_LEASE_SECONDS))
        if not renewed:
            self.lost = True
            return
        self.renewed_at = renewing
        self.read_requests()

    def read_requests(self) -> None:
        self.budget, self.cancel_requested = Run.objects.values_list("budget_seconds", "cancel_requested").get(
            pk=self.run_id)

    def owns(self) -> bool:
        """Whether this worker surely still holds the run, without asking the database."""
        margin = settings.NASWEB_LEASE_SECONDS * LEASE_MARGIN_SHARE
        return not self.lost and self.clock() - self.renewed_at < settings.NASWEB_LEASE_SECONDS - margin

    def cancelled(self) -> bool:
        if not self.owns():
            raise LeaseLost(f"run {self.run_id}: attempt {self.attempt} lost its lease")
        return self.cancel_requested

    def budget_seconds(self) -> float:
        return self.budget

    def stop(self) -> None:
        self.stopping.set()


def run_execute(*, run_id: int, open_slot: Callable[[int], None]) -> None:
    """Run the search of a queued run on this worker; safe to call again for the same message. open_slot(n) asks
    another worker to evaluate the run's candidates as its slot n."""
    worker = worker_identity()
    run = run_claim(run_id=run_id, worker=worker)
    if run is None:
        return
    if run.attempts == 1:
        # Only a re-queued run resumes from its checkpoints; whatever a first attempt finds in its folder belongs
        # to someone else (a database restored or recreated, so run ids were reused).
        shutil.rmtree(run.work_dir, ignore_errors=True)
    run_status_publish(run)
    lease = RunLease(run, worker)
    lease.start()
    try:
        result = search_run(run, lease, open_slot)
    except LeaseLost:
        logger.warning("run %s: attempt %s lost its lease to another worker and stopped", run.pk, run.attempts)
    except SearchFailed as reason:
        if lease.cancel_requested:  # stopped as asked before any candidate finished: a stop, not a failure
            run_finish(run, worker, status=Run.Status.CANCELLED, error="Stopped before any candidate finished.")
        else:
            run_finish(run, worker, status=Run.Status.FAILED, error=str(reason))
    except (DatasetError, BudgetTooSmall) as reason:
        run_finish(run, worker, status=Run.Status.FAILED, error=str(reason))
    except Exception as error:
        logger.exception("run %s failed", run.pk)
        run_finish(run, worker, status=Run.Status.FAILED, error=run_failure_message(run, error))
    else:
        status = Run.Status.CANCELLED if result.summary.status == "cancelled" else Run.Status.FINISHED
        if run_store_result(run, result.to_dict()):
            run_finish(run, worker, status=status, error="Cancelled: the best model so far was kept."
                       if status == Run.Status.CANCELLED else "")
    finally:
        lease.stop()


def search_config(run: Run) -> SearchConfig:
    return SearchConfig(
        budget_seconds=run.budget_seconds, strategy=run.strategy, seed=run.seed,
        constraints=Constraints(max_params=run.max_params, max_model_mb=run.max_model_mb,
                                max_latency_ms=run.max_latency_ms),
        space=SearchSpace(**{key: tuple(value) for key, value in run.space.items()}),
        device=worker_device(), workers=run.workers,
    )


def study_storage_url() -> str | None:
    """Where a run's Optuna study lives so that workers on several machines share it: the project's PostgreSQL
    database (SQLAlchemy's form of its URL). None in embedded mode: a journal file in the run's folder."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return None
    return postgres_url(database, "postgresql+psycopg",
                        options=f"-c idle_in_transaction_session_timeout={FROZEN_TRANSACTION_SECONDS * 1000}")


def search_run(run: Run, lease: RunLease, open_slot: Callable[[int], None]):
    progress = RunProgress(run, attempt=run.attempts, worker=lease.worker)
    with tempfile.TemporaryDirectory(prefix="nasweb-run-") as scratch:  # holds the mapped pixels: kept to the end
        try:
            dataset = dataset_training_load(run.dataset, Path(scratch), run.resolution)
        except DatasetError:
            raise
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise TrainingCopyUnreadable from error
        return run_search(search_config(run), dataset, run.work_dir, control=lease,
                          on_event=lambda event: progress({**event, **worker_memory()}),
                          open_slot=open_slot,
                          storage_url=study_storage_url(), worker=lease.worker,
                          stale_seconds=settings.NASWEB_LEASE_SECONDS)


class SlotControl:
    """The engine's SearchControl for a slot: cancel and budget extensions read from the run's row (the engine
    polls at most once a second); a run that ended stops the slot, and one whose attempt this slot served is over
    (its coordinator died: the run was re-queued, or taken by another) raises LeaseLost."""

    def __init__(self, run_id: int, attempt: int):
        self.run_id, self.attempt = run_id, attempt

    def cancelled(self) -> bool:
        status, attempts, cancel_requested = Run.objects.values_list("status", "attempts", "cancel_requested").get(
            pk=self.run_id)
        if attempts != self.attempt or status == Run.Status.QUEUED:
            raise LeaseLost(f"run {self.run_id}: attempt {self.attempt} is over")
        return cancel_requested or status != Run.Status.RUNNING

    def budget_seconds(self) -> float:
        return Run.objects.values_list("budget_seconds", flat=True).get(pk=self.run_id)


def slot_execute(*, run_id: int, slot: int) -> None:
    """Evaluate a running run's candidates as its slot `slot` for its current attempt; a duplicated message finds
    the slot claimed."""
    worker = worker_identity()
    run = Run.objects.filter(pk=run_id, status=Run.Status.RUNNING).first()
    if run is None:
        return
    try:
        claim = RunSlot.objects.create(run=run, attempt=run.attempts, slot=slot, worker=worker)
    except IntegrityError:
        return
    progress = RunProgress(run, attempt=run.attempts)
    try:
        with tempfile.TemporaryDirectory(prefix="nasweb-slot-") as scratch:
            dataset = dataset_training_load(run.dataset, Path(scratch), run.resolution)
            run_trial_slot(search_config(run), dataset, run.work_dir, slot=slot,
                           control=SlotControl(run.pk, run.attempts),
                           on_event=lambda event: progress({**event, **worker_memory()}),
                           storage_url=study_storage_url(), worker=worker,
                           stale_seconds=settings.NASWEB_LEASE_SECONDS)
    except LeaseLost:
        logger.warning("run %s: slot %s stopped, its attempt %s is over", run.pk, slot, run.attempts)
    except Exception:  # the coordinator records this slot's candidate as failed once its heartbeat stops
        logger.exception("run %s: slot %s failed", run.pk, slot)
    finally:
        RunSlot.objects.filter(pk=claim.pk).update(finished=timezone.now())


@transaction.atomic
def run_store_result(run: Run, result: dict) -> bool:
    """Store the engine's result and model files, if run's worker still holds this attempt (the row stays locked
    meanwhile, so no one takes the run over halfway); False, storing nothing, when it lost the run."""
    if not Run.objects.select_for_update().filter(pk=run.pk, attempts=run.attempts, worker=run.worker,
                                                  status=Run.Status.RUNNING).exists():
        return False
    work_dir = run.work_dir
    artifacts = {}
    for kind, name in ARTIFACT_FILES.items():
        if (work_dir / name).exists():
            default_storage.delete(f"{run.storage_prefix}/{name}")
            with open(work_dir / name, "rb") as handle:
                artifacts[kind] = default_storage.save(f"{run.storage_prefix}/{name}", File(handle))
    best = {key: result["best"][key] for key in RUN_BEST_FIELDS}
    Run.objects.filter(pk=run.pk).update(result=result, artifacts=artifacts, best=best)
    return True


def run_finish(run: Run, worker: str, *, status: str, error: str) -> None:
    """Record the end of a run, if this worker still holds the attempt it claimed."""
    updated = Run.objects.filter(pk=run.pk, worker=worker, attempts=run.attempts, status=Run.Status.RUNNING).update(
        status=status, error=error, finished=timezone.now(), lease_expires=None,
        progress=1.0 if status == Run.Status.FINISHED else F("progress"), eta_seconds=0)
    if updated:
        run.refresh_from_db()
        run_status_publish(run)
