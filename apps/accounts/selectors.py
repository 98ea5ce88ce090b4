from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import Team


def team_list(*, user: AbstractBaseUser) -> QuerySet[Team]:
    """The teams a user belongs to, personal team first."""
    return user.teams.order_by("-is_personal", "name")


def team_get(*, user: AbstractBaseUser, team_id: int | None) -> Team | None:
    """One of the user's teams by id (None if they are not a member); the personal team when no id is given."""
    if team_id is None:
        return user.teams.filter(is_personal=True).first()
    return user.teams.filter(pk=team_id).first()
