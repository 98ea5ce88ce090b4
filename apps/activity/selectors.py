from django.db.models import QuerySet
from django.http import Http404

from apps.accounts.selectors import team_get

from .models import Activity


def activity_list(*, user, team_id: int | None = None) -> QuerySet[Activity]:
    """The feed of one of the user's teams, or of all of them; another team's id is a 404."""
    activities = Activity.objects.filter(team__members=user).select_related("actor", "team")
    if team_id is None:
        return activities
    if team_get(user=user, team_id=team_id) is None:
        raise Http404("No such team.")
    return activities.filter(team_id=team_id)
