"""The team a browser is working in: lists show its objects and uploads go to it. Kept in the session, checked
against the user's memberships on every request, and the personal team when none is chosen."""

from django.http import HttpRequest

from .models import Membership, Team
from .selectors import team_get, team_list

SESSION_KEY = "current_team_id"


def current_team_get(request: HttpRequest) -> Team:
    """The user's current team, with their `role` in it."""
    if not hasattr(request, "_current_team"):
        user = request.user
        team = team_list(user=user).filter(pk=request.session.get(SESSION_KEY)).first()
        if team is None:
            personal = team_get(user=user, team_id=None)
            team = team_list(user=user).filter(pk=personal.pk).first() if personal else team_list(user=user).first()
        request._current_team = team
    return request._current_team


def current_team_set(request: HttpRequest, team: Team) -> None:
    """Only call with one of the user's teams (selectors.team_get_or_404 finds it)."""
    request.session[SESSION_KEY] = team.pk
    request._current_team = team_list(user=request.user).get(pk=team.pk)


def current_team_context(request: HttpRequest) -> dict:
    """The team switcher's data for every page, and the teams someone added the user to since their last page
    (told once, as a message is)."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    current = current_team_get(request)
    return {"current_team": current, "my_teams": team_list(user=request.user),
            "can_write_current_team": current is not None and current.role in Membership.WRITERS,
            "new_memberships": memberships_to_announce(request.user)}


def memberships_to_announce(user) -> list[Membership]:
    """The user's memberships that an owner added and the user has not been told of, now marked as told."""
    news = list(Membership.objects.filter(user=user, announced=False).select_related("team", "added_by"))
    if news:
        Membership.objects.filter(pk__in=[membership.pk for membership in news]).update(announced=True)
    return news
