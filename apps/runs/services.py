import logging
import secrets
import shutil
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.errors import DomainError
from apps.accounts.models import Team
from apps.accounts.permissions import write_access_check
from apps.accounts.quotas import run_quota_check, team_lock
from apps.activity.models import Activity
from apps.activity.services import activity_record
from apps.datasets.models import Dataset
from apps.nas.names import BACKBONE_NAMES, BLOCK_TYPES
from nasweb.workers import BROKER_UNREACHABLE, REQUEUE_AFTER_SECONDS

from .budgets import MAX_BUDGET_SECONDS, MIN_BUDGET_SECONDS, budget_label
from .models import MAX_PARAMS_LIMIT, MAX_PARAMS_MESSAGE, MAX_SEED, SEED_MESSAGE, Note, Run, ShareLink
from .progress import run_notes_publish, run_status_publish
from .selectors import team_active_run_count
from .tasks import execute_run, run_time_limit_ms

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


class RunError(DomainError):
    """A run cannot be created or changed as asked; the message says why."""


@transaction.atomic
def run_create(*, team: Team, user, dataset: Dataset, budget_seconds: float, strategy: str = "auto", seed: int = 0,
               max_latency_ms: float | None = None, max_params: int | None = None,
               max_model_mb: float | None = None, block_types: list[str] | None = None,
               backbones: list[str] | None = None, resolution: int | None = None, name: str = "") -> Run:
    """Check the request, store the run as queued and send it to the workers."""
    write_access_check(user=user, team=team, doing="launch runs")
    if dataset.team_id != team.pk:
        raise RunError("This dataset belongs to another team.")
    if dataset.status != Dataset.Status.READY or not dataset.can_train():
        raise RunError(f"The dataset “{dataset.name}” is {dataset.status}" +
                       (f": {dataset.error}" if dataset.error else ", not ready for training yet."))
    known_choices_check(block_types, BLOCK_TYPES, kind="building blocks")
    known_choices_check(backbones, BACKBONE_NAMES, kind="pretrained networks")
    if resolution is not None and resolution not in dataset.training_sides():
        raise RunError(f"The images of this dataset can be trained at "
                       f"{', '.join(map(str, dataset.training_sides()))} pixels, not {resolution}.")
    if not MIN_BUDGET_SECONDS <= budget_seconds <= MAX_BUDGET_SECONDS:
        raise RunError(f"The budget must be between {MIN_BUDGET_SECONDS} seconds and "
                       f"{MAX_BUDGET_SECONDS // 3600} hours.")
    if max_params is not None and not 1 <= max_params <= MAX_PARAMS_LIMIT:
        raise RunError(MAX_PARAMS_MESSAGE, field="max_params")
    if not 0 <= seed <= MAX_SEED:
        raise RunError(SEED_MESSAGE, field="seed")
    space = {"block_types": block_types} if block_types else {}
    if backbones is not None:
        space["backbones"] = backbones  # [] is a choice too: networks from scratch only
    team = team_lock(team)
    run_quota_check(team=team, active_runs=team_active_run_count(team=team))
    run = Run.objects.create(
        team=team, created_by=user, dataset=dataset, name=name or default_run_name(dataset, budget_seconds),
        budget_seconds=budget_seconds, original_budget_seconds=budget_seconds, strategy=strategy, seed=seed,
        max_latency_ms=max_latency_ms, max_params=max_params, max_model_mb=max_model_mb,
        space=space,
        resolution=None if resolution == dataset.stats["resolution"] else resolution,
        workers=team.workers_per_run,
    )
    activity_record(team=team, actor=user, verb=Activity.Verb.RUN_LAUNCHED, target=run)
    transaction.on_commit(lambda: run_enqueue(run))
    return run


def known_choices_check(chosen: list[str] | None, known: dict[str, str], *, kind: str) -> None:
    """Refuse names the engine does not know, saying which it does."""
    unknown = sorted(set(chosen or ()) - set(known))
    if unknown:
        raise RunError(f"Unknown {kind}: {', '.join(unknown)}. Choose from: {', '.join(known)}.")


def run_enqueue(run: Run) -> None:
    """Send a queued run to the workers. With the broker unreachable the run stays queued in the database, which
    is the source of truth: the reaper sends it again once the broker is back (REQUEUE_AFTER_SECONDS)."""
    Run.objects.filter(pk=run.pk).update(enqueued_at=timezone.now())
    try:
        execute_run.send_with_options(args=(run.pk,), time_limit=run_time_limit_ms(run))
    except BROKER_UNREACHABLE:
        logger.warning("run %s: the broker is unreachable; the reaper sends the run later", run.pk, exc_info=True)


def run_cancel(*, run: Run, user) -> Run:
    """Ask a run to stop; it keeps the best model found so far. A queued run stops at once."""
    write_access_check(user=user, team=run.team, doing="cancel runs")
    if not run.is_active:
        raise RunError(f"This run is already {run.status}.")
    Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    stopped_before_start = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
        status=Run.Status.CANCELLED, finished=timezone.now(), error="Cancelled before it started.")
    run.refresh_from_db()
    activity_record(team=run.team, actor=user, verb=Activity.Verb.RUN_CANCELLED, target=run)
    if stopped_before_start:
        run_status_publish(run)
    return run


@transaction.atomic
def run_retry(*, run: Run, user) -> Run:
    """Queue a failed run again; it resumes from its checkpoints, so candidates it trained are not trained again."""
    write_access_check(user=user, team=run.team, doing="retry runs")
    if run.status != Run.Status.FAILED:
        raise RunError(f"Only a failed run can be retried; this one is {run.status}.")
    team = team_lock(run.team)
    run_quota_check(team=team, active_runs=team_active_run_count(team=team))
    # attempts is kept: a claim after the first resumes from the run's folder instead of clearing it.
    Run.objects.filter(pk=run.pk, status=Run.Status.FAILED).update(
        status=Run.Status.QUEUED, error="", finished=None, cancel_requested=False, worker="", lease_expires=None)
    run.refresh_from_db()
    activity_record(team=team, actor=user, verb=Activity.Verb.RUN_LAUNCHED, target=run)
    transaction.on_commit(lambda: run_status_publish(run))
    transaction.on_commit(lambda: run_enqueue(run))
    return run


def default_run_name(dataset: Dataset, budget_seconds: float) -> str:
    """The name of a run the user did not name: its dataset and its budget, which an extension updates."""
    return f"{dataset.name} · {budget_label(budget_seconds)}"


def run_extend(*, run: Run, user, seconds: float) -> Run:
    """Give an active run more time."""
    write_access_check(user=user, team=run.team, doing="extend runs")
    if not run.is_active:
        raise RunError(f"This run is already {run.status}; only a queued or running search can be extended.")
    limit = run.extension_limit_seconds
    if seconds <= 0 or run.budget_seconds + seconds > limit:
        raise RunError(f"A search can be extended up to {budget_label(limit)} in all "
                       f"(now {budget_label(run.budget_seconds)}).")
    renamed = {}
    if run.name == default_run_name(run.dataset, run.budget_seconds):  # a name the user gave stays
        renamed["name"] = default_run_name(run.dataset, run.budget_seconds + seconds)
    Run.objects.filter(pk=run.pk).update(budget_seconds=F("budget_seconds") + seconds, **renamed)
    run.refresh_from_db()
    activity_record(team=run.team, actor=user, verb=Activity.Verb.RUN_EXTENDED, target=run)
    run_status_publish(run)
    return run


def run_delete(*, run: Run, user) -> None:
    write_access_check(user=user, team=run.team, doing="delete runs")
    if run.is_active:
        raise RunError("Cancel the run before deleting it.")
    work_dir, stored = run.work_dir, list(run.artifacts.values())  # run.pk is None after delete()
    activity_record(team=run.team, actor=user, verb=Activity.Verb.RUN_DELETED, target=run)
    run.delete()
    for path in stored:
        default_storage.delete(path)
    shutil.rmtree(work_dir, ignore_errors=True)


def runs_reap() -> int:
    """Re-queue runs whose worker died (stale lease), end those asked to stop, and re-send queued runs nobody
    claimed; return how many."""
    now = timezone.now()
    touched = 0
    for run in Run.objects.filter(status=Run.Status.RUNNING, lease_expires__lt=now):
        if run.cancel_requested:
            # A stopped run ends stopped: no worker may claim it again (run_claim refuses it), so re-queued it would
            # wait for ever.
            ended = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, lease_expires__lt=now).update(
                status=Run.Status.CANCELLED, finished=now, lease_expires=None, eta_seconds=0,
                error=stopped_without_worker_reason(run))
        elif run.attempts >= MAX_ATTEMPTS:
            ended = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, lease_expires__lt=now).update(
                status=Run.Status.FAILED, finished=now, lease_expires=None,
                error=f"The worker running this search stopped responding {run.attempts} times; giving up.")
        else:
            ended = 0
            if Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, lease_expires__lt=now,
                                  cancel_requested=False).update(
                    status=Run.Status.QUEUED, worker="", lease_expires=None):
                logger.warning("run %s: worker %s stopped responding, re-queued", run.pk, run.worker)
                run_enqueue(run)
                touched += 1
        if ended:
            run.refresh_from_db()
            run_status_publish(run)
            touched += 1
    stale_queue = now - timedelta(seconds=REQUEUE_AFTER_SECONDS)
    for run in Run.objects.filter(Q(enqueued_at__lt=stale_queue) | Q(enqueued_at=None), status=Run.Status.QUEUED,
                                  created__lt=stale_queue):
        run_enqueue(run)
        touched += 1
    return touched


def stopped_without_worker_reason(run: Run) -> str:
    """Why a run asked to stop ended without its worker, in plain words: with its best model if it had stored it."""
    if run.result is not None:
        return "Cancelled: the best model so far was kept."
    if run.events.filter(type="new_best").exists():
        return ("Stopped as asked, but its worker stopped responding before it could export the best candidate, "
                "so there is no model to download.")
    return "Stopped before any candidate finished."


def share_link_create(*, run: Run, user, allow_download: bool = False) -> tuple[ShareLink, str]:
    """Make a secret read-only link to a run's result; return it with its token, which is never stored."""
    write_access_check(user=user, team=run.team, doing="share runs")
    if run.result is None:
        raise RunError("Only a run with a result can be shared: wait until it has finished.")
    token = secrets.token_urlsafe(32)
    link = ShareLink.objects.create(run=run, token_hash=ShareLink.digest(token), token_hint=token[:6],
                                    allow_download=allow_download, created_by=user)
    activity_record(team=run.team, actor=user, verb=Activity.Verb.SHARE_CREATED, target=run)
    return link, token


def share_link_revoke(*, link: ShareLink, user) -> None:
    """Stop a share link from working, at once."""
    write_access_check(user=user, team=link.run.team, doing="revoke share links")
    link.delete()
    activity_record(team=link.run.team, actor=user, verb=Activity.Verb.SHARE_REVOKED, target=link.run)


def note_create(*, run: Run, user, body: str) -> Note:
    """Add a markdown note to a run and tell the teammates who have it open."""
    write_access_check(user=user, team=run.team, doing="add notes")
    if not body.strip():
        raise RunError("A note needs some text.")
    note = Note.objects.create(run=run, author=user, body=body.strip())
    activity_record(team=run.team, actor=user, verb=Activity.Verb.NOTE_ADDED, target=run)
    transaction.on_commit(lambda: run_notes_publish(run))
    return note


def note_delete(*, note: Note, user) -> None:
    """Delete a note; only its author may."""
    if note.author_id != user.pk:
        raise PermissionDenied("Only the author of a note can delete it.")
    note.delete()
    transaction.on_commit(lambda: run_notes_publish(note.run))
