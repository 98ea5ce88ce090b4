from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Run, RunEvent


def run_list(*, user) -> QuerySet[Run]:
    """The runs of every team the user belongs to."""
    return Run.objects.filter(team__members=user).select_related("dataset", "created_by", "team")


def run_get(*, user, run_id: int) -> Run:
    """One run of the user's teams; 404 for anything else."""
    return get_object_or_404(run_list(user=user), pk=run_id)


def run_event_list(*, run: Run, after: int = 0, limit: int = 1000) -> QuerySet[RunEvent]:
    return run.events.filter(seq__gt=after).order_by("seq")[:limit]
