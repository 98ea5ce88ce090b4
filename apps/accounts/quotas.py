"""Team quotas: how many runs may be queued or running at once, and how many bytes of datasets a team may keep.

The datasets and runs services measure their own usage and call these checks inside the transaction that locks
the team row, so two requests at the same moment cannot both take the last place.
"""

from django.template.defaultfilters import filesizeformat

from .errors import DomainError
from .models import Team


class QuotaExceeded(DomainError):
    """The team has used up a quota; nothing was stored. The message says what to do."""

    # 429, not 403 (that is for roles) nor 409 (the upload API's "resume from here"): a quota frees up when runs
    # finish or data is deleted, like a rate limit.
    status_code = 429


def run_quota_check(*, team: Team, active_runs: int) -> None:
    if active_runs >= team.run_quota:
        raise QuotaExceeded(
            f"Team “{team.name}” already has {active_runs} run{'s' if active_runs != 1 else ''} queued or running, "
            f"the most its quota allows. Wait for one to finish or cancel one.")


def storage_quota_check(*, team: Team, stored_bytes: int, adding_bytes: int) -> None:
    """`stored_bytes` excludes the `adding_bytes` being asked for."""
    if stored_bytes + adding_bytes > team.storage_quota:
        left = max(0, team.storage_quota - stored_bytes)
        raise QuotaExceeded(
            f"Team “{team.name}” stores {filesizeformat(stored_bytes)} of its {filesizeformat(team.storage_quota)} "
            f"quota, so this upload of {filesizeformat(adding_bytes)} does not fit ({filesizeformat(left)} left). "
            "Delete datasets you no longer need, or ask an administrator for a larger quota.")


def team_lock(team: Team) -> Team:
    """Lock the team's row until the transaction ends (PostgreSQL; SQLite serialises writers anyway)."""
    return Team.objects.select_for_update().get(pk=team.pk)
