from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.shortcuts import get_object_or_404

from .models import ApiToken, Membership, Team, TeamInvite


def team_list(*, user: AbstractBaseUser) -> QuerySet[Team]:
    """The teams a user belongs to, their own personal team first, each with the user's `role` in it."""
    own_personal = Case(When(is_personal=True, memberships__role=Membership.Role.OWNER, then=Value(0)),
                        default=Value(1), output_field=IntegerField())
    return (Team.objects.filter(memberships__user=user).annotate(role=F("memberships__role"))
            .order_by(own_personal, "name", "pk"))


def personal_team_get(*, user: AbstractBaseUser) -> Team | None:
    """The team made for the user at sign-up: personal, owned by them, and theirs alone."""
    return Team.objects.filter(is_personal=True, memberships__user=user,
                               memberships__role=Membership.Role.OWNER).first()


def team_get(*, user: AbstractBaseUser, team_id: int | None) -> Team | None:
    """One of the user's teams by id (None if they are not a member); the personal team when no id is given."""
    if team_id is None:
        return personal_team_get(user=user)
    return team_list(user=user).filter(pk=team_id).first()


def team_get_or_404(*, user: AbstractBaseUser, team_id: int) -> Team:
    """One of the user's teams, with their `role`; 404 for any other id, so outsiders learn nothing."""
    return get_object_or_404(team_list(user=user), pk=team_id)


def member_list(*, team: Team) -> QuerySet[Membership]:
    """The team's memberships, owners first."""
    order = {Membership.Role.OWNER: 0, Membership.Role.MEMBER: 1, Membership.Role.VIEWER: 2}
    rank = Case(*(When(role=role, then=Value(i)) for role, i in order.items()), output_field=IntegerField())
    return team.memberships.select_related("user").annotate(rank=rank).order_by("rank", "user__username")


def member_get_or_404(*, team: Team, user_id: int) -> Membership:
    return get_object_or_404(team.memberships.select_related("user"), user_id=user_id)


def invite_get_or_404(*, team: Team, invite_id: int) -> TeamInvite:
    return get_object_or_404(team.invites, pk=invite_id)


def invite_list(*, team: Team) -> QuerySet[TeamInvite]:
    """The team's invite links still working."""
    return team.invites.filter(revoked=None).select_related("created_by")


def invite_get_by_key(*, key: str) -> TeamInvite:
    """A working invite link by its secret; 404 for a revoked or made-up one."""
    return get_object_or_404(TeamInvite.objects.select_related("team", "created_by"), key=key, revoked=None)


def token_list(*, user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """The user's API tokens that still work."""
    return user.api_tokens.filter(revoked=None)


def token_get_or_404(*, user: AbstractBaseUser, token_id: int) -> ApiToken:
    return get_object_or_404(token_list(user=user), pk=token_id)
