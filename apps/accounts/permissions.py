"""Who may do what in a team: the one place that turns a role into a yes or a no, called by every service that
changes a team's datasets, runs or members."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied

from .models import Membership, Team


class TeamPermissionDenied(PermissionDenied):
    """The user's role in the team does not allow this; the message says why and whom to ask.

    A PermissionDenied, so pages answer 403 with the message (templates/403.html) and so does the API.
    """


def role_get(*, user: AbstractBaseUser, team: Team) -> str | None:
    """The user's role in the team, or None for someone outside it."""
    return Membership.objects.filter(user=user, team=team).values_list("role", flat=True).first()


def can_write(*, user: AbstractBaseUser, team: Team) -> bool:
    return role_get(user=user, team=team) in Membership.WRITERS


def write_access_check(*, user: AbstractBaseUser, team: Team, doing: str) -> None:
    """Refuse viewers and outsiders; `doing` finishes the sentence "Viewers of X cannot …", e.g. "launch runs"."""
    role = role_get(user=user, team=team)
    if role == Membership.Role.VIEWER:
        raise TeamPermissionDenied(f"Viewers of “{team.name}” cannot {doing}; ask an owner to make you a member.")
    if role is None:
        raise TeamPermissionDenied(f"You are not a member of “{team.name}”.")


def owner_check(*, user: AbstractBaseUser, team: Team, doing: str) -> None:
    """Refuse everyone but the team's owners; `doing` as in write_access_check, e.g. "change roles"."""
    role = role_get(user=user, team=team)
    if role is None:
        raise TeamPermissionDenied(f"You are not a member of “{team.name}”.")
    if role != Membership.Role.OWNER:
        raise TeamPermissionDenied(f"Only owners of “{team.name}” can {doing}.")
