from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from apps.accounts.models import Team

from .budgets import WorkerSpeed, default_speed, speed_measured
from .models import Note, Run, RunEvent, ShareLink

# The estimate follows the workers' recent speed: new hardware shows within this many runs.
SPEED_RUNS = 20


def run_list(*, user, team: Team | None = None) -> QuerySet[Run]:
    """The runs of every team the user belongs to, or of one of them."""
    runs = Run.objects.filter(team__members=user).select_related("dataset", "created_by", "team")
    return runs if team is None else runs.filter(team=team)


def run_get(*, user, run_id: int) -> Run:
    """One run of the user's teams; 404 for anything else."""
    return get_object_or_404(run_list(user=user), pk=run_id)


def team_active_run_count(*, team: Team) -> int:
    """Runs of the team queued or running: what its concurrent-runs quota counts."""
    return team.runs.filter(status__in=Run.ACTIVE).count()


def run_event_list(*, run: Run, after: int = 0, limit: int = 1000) -> QuerySet[RunEvent]:
    return run.events.filter(seq__gt=after).order_by("seq")[:limit]


TRIAL_EVENT_TYPES = ("trial_started", "trial_finished", "trial_pruned", "trial_failed")


def trial_status(kind: str, payload: dict) -> str:
    if kind == "trial_finished":
        return "complete"
    if kind == "trial_failed":
        return "failed"
    return "infeasible" if payload.get("infeasible") else "pruned"


def run_trial_list(*, run: Run) -> list[dict]:
    """Every candidate of a run so far, from its events, in number order: which worker trained it, when, and how it
    ended (status "running" until it has)."""
    trials: dict[int, dict] = {}
    events = run.events.filter(type__in=TRIAL_EVENT_TYPES).order_by("seq").values_list("type", "payload", "created")
    for kind, payload, created in events:
        row = trials.setdefault(payload["trial_id"], {
            "number": payload["trial_id"], "name": "", "status": "running", "worker": "", "started_at": created,
            "finished_at": None, "val_accuracy": None, "cv_accuracy": None,
        })
        if kind == "trial_started":
            row["worker"] = payload.get("worker") or row["worker"]
            row["name"] = payload.get("name", "")
        else:
            row.update(status=trial_status(kind, payload), finished_at=created,
                       val_accuracy=payload.get("val_accuracy"), cv_accuracy=payload.get("cv_accuracy"))
    return [trials[number] for number in sorted(trials)]


def worker_speed(*, dataset, strategy: str) -> WorkerSpeed:
    """How fast this deployment's workers train, from its most recent finished runs: of this strategy first (auto
    stops most candidates after a few epochs, the others train each one's whole schedule), on this dataset before
    others; with none, the figures measured on a small CPU for data like this (colour photos, or small grey
    images)."""
    channels = dataset.stats.get("channels", {})
    default = default_speed(colour=channels.get("colour", 0) > channels.get("grey", 0))
    finished = Run.objects.filter(status=Run.Status.FINISHED, result__isnull=False).order_by("-finished")
    same_strategy = finished.filter(strategy=strategy)
    for runs in (same_strategy.filter(dataset=dataset), same_strategy, finished.filter(dataset=dataset), finished):
        speed = speed_measured(runs.values_list("result__summary", flat=True)[:SPEED_RUNS], default)
        if speed.runs:
            return speed
    return default


def share_link_list(*, run: Run) -> QuerySet[ShareLink]:
    return run.share_links.select_related("created_by")


def share_link_get(*, user, run_id: int, link_id: int) -> ShareLink:
    return get_object_or_404(share_link_list(run=run_get(user=user, run_id=run_id)), pk=link_id)


def shared_link_get(*, token: str) -> ShareLink:
    """The share link a token opens, with its run; 404 for a wrong or revoked token."""
    return get_object_or_404(ShareLink.objects.select_related("run"), token_hash=ShareLink.digest(token))


# The model files a share link may hand out when the team allowed downloads; result.json stays with the team.
SHARED_ARTIFACTS = ("bundle", "onnx", "torchscript", "weights", "genotype")


def shared_artifact_list(*, link: ShareLink) -> list[str]:
    return sorted(kind for kind in link.run.artifacts if kind in SHARED_ARTIFACTS) if link.allow_download else []


def shared_event_payload(event: RunEvent) -> dict:
    """An event as a share link shows it: without the worker's file paths, or which machine ran what."""
    return {key: value for key, value in event.payload.items() if key not in ("files", "worker")}


def note_list(*, run: Run) -> QuerySet[Note]:
    return run.notes.select_related("author")


def note_get(*, user, run_id: int, note_id: int) -> Note:
    return get_object_or_404(note_list(run=run_get(user=user, run_id=run_id)), pk=note_id)
