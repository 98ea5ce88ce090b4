import logging
import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.models import Team
from apps.datasets.models import Dataset

from .models import Run
from .progress import run_status_publish

logger = logging.getLogger(__name__)

MIN_BUDGET_SECONDS = 30
MAX_BUDGET_SECONDS = 24 * 60 * 60
# A running search may be extended until it has this many times its original budget.
MAX_EXTENSION_FACTOR = 2
MAX_ATTEMPTS = 3
# A queued run no worker claimed for this long is sent again (its message may have died with a broker).
REQUEUE_AFTER_SECONDS = 120
# The engine's block registry, named here so the web process need not import it.
BLOCK_TYPES = ("plain", "residual", "mbconv", "dwsep")
ARTIFACT_FILES = {"bundle": "bundle.zip", "onnx": "model.onnx", "torchscript": "model.torchscript.pt",
                  "weights": "weights.pt", "genotype": "genotype.json", "result": "result.json"}


class RunError(ValueError):
    """A run cannot be created or changed as asked; the message says why."""


def run_create(*, team: Team, user, dataset: Dataset, budget_seconds: float, strategy: str = "auto", seed: int = 0,
               max_latency_ms: float | None = None, max_params: int | None = None,
               max_model_mb: float | None = None, block_types: list[str] | None = None, name: str = "") -> Run:
    """Check the request, store the run as queued and send it to the workers."""
    if dataset.team_id != team.pk:
        raise RunError("This dataset belongs to another team.")
    if dataset.status != Dataset.Status.READY or not dataset.can_train():
        raise RunError(f"The dataset “{dataset.name}” is {dataset.status}" +
                       (f": {dataset.error}" if dataset.error else ", not ready for training yet."))
    if block_types is not None and not set(block_types) <= set(BLOCK_TYPES):
        raise RunError(f"Unknown block types: {sorted(set(block_types) - set(BLOCK_TYPES))}.")
    if not MIN_BUDGET_SECONDS <= budget_seconds <= MAX_BUDGET_SECONDS:
        raise RunError(f"The budget must be between {MIN_BUDGET_SECONDS} seconds and "
                       f"{MAX_BUDGET_SECONDS // 3600} hours.")
    run = Run.objects.create(
        team=team, created_by=user, dataset=dataset, name=name or f"{dataset.name} · {budget_label(budget_seconds)}",
        budget_seconds=budget_seconds, original_budget_seconds=budget_seconds, strategy=strategy, seed=seed,
        max_latency_ms=max_latency_ms, max_params=max_params, max_model_mb=max_model_mb,
        space={"block_types": block_types} if block_types else {},
    )
    transaction.on_commit(lambda: run_enqueue(run))
    return run


def budget_label(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds < 3600 else f"{seconds / 3600:g} h"


def run_enqueue(run: Run) -> None:
    from .tasks import execute_run

    Run.objects.filter(pk=run.pk).update(enqueued_at=timezone.now())
    # Dramatiq's time limit guards against a hung worker; the lease already tells live from dead.
    time_limit_ms = int((run.original_budget_seconds * MAX_EXTENSION_FACTOR + 600) * 1000)
    execute_run.send_with_options(args=(run.pk,), time_limit=time_limit_ms)


def run_cancel(*, run: Run) -> Run:
    """Ask a run to stop; it keeps the best model found so far. A queued run stops at once."""
    if not run.is_active:
        raise RunError(f"This run is already {run.status}.")
    Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    stopped_before_start = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
        status=Run.Status.CANCELLED, finished=timezone.now(), error="Cancelled before it started.")
    run.refresh_from_db()
    if stopped_before_start:
        run_status_publish(run)
    return run


def run_extend(*, run: Run, seconds: float) -> Run:
    """Give an active run more time."""
    if not run.is_active:
        raise RunError(f"This run is already {run.status}; only a queued or running search can be extended.")
    limit = run.original_budget_seconds * MAX_EXTENSION_FACTOR
    if seconds <= 0 or run.budget_seconds + seconds > limit:
        raise RunError(f"A search can be extended up to {budget_label(limit)} in all "
                       f"(now {budget_label(run.budget_seconds)}).")
    Run.objects.filter(pk=run.pk).update(budget_seconds=F("budget_seconds") + seconds)
    run.refresh_from_db()
    run_status_publish(run)
    return run


def run_delete(*, run: Run) -> None:
    if run.is_active:
        raise RunError("Cancel the run before deleting it.")
    work_dir, stored = run_work_dir_path(run.pk), list(run.artifacts.values())  # run.pk is None after delete()
    run.delete()
    for path in stored:
        default_storage.delete(path)
    shutil.rmtree(work_dir, ignore_errors=True)


def run_work_dir_path(run_id: int) -> Path:
    # Checkpoints live here; on several machines this folder must be shared so another worker can resume.
    return Path(settings.NASWEB_RUNS_DIR) / str(run_id)


def runs_reap() -> int:
    """Re-queue runs whose worker died (stale lease) and re-send queued runs nobody claimed; return how many."""
    now = timezone.now()
    touched = 0
    for run in Run.objects.filter(status=Run.Status.RUNNING, lease_expires__lt=now):
        if run.attempts >= MAX_ATTEMPTS:
            failed = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, lease_expires__lt=now).update(
                status=Run.Status.FAILED, finished=now, lease_expires=None,
                error=f"The worker running this search stopped responding {run.attempts} times; giving up.")
        else:
            failed = 0
            if Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, lease_expires__lt=now).update(
                    status=Run.Status.QUEUED, worker="", lease_expires=None):
                logger.warning("run %s: worker %s stopped responding, re-queued", run.pk, run.worker)
                run_enqueue(run)
                touched += 1
        if failed:
            run.refresh_from_db()
            run_status_publish(run)
            touched += 1
    stale_queue = now - timedelta(seconds=REQUEUE_AFTER_SECONDS)
    for run in Run.objects.filter(Q(enqueued_at__lt=stale_queue) | Q(enqueued_at=None), status=Run.Status.QUEUED,
                                  created__lt=stale_queue):
        run_enqueue(run)
        touched += 1
    return touched
