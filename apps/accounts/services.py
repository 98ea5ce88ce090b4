import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .models import Membership, Team

DEMO_USERNAME = "demo"


@transaction.atomic
def team_create(*, name: str, owner: AbstractBaseUser, is_personal: bool = False) -> Team:
    """Create a team with its owner as first member."""
    team = Team.objects.create(name=name, is_personal=is_personal)
    Membership.objects.create(user=owner, team=team, role=Membership.Role.OWNER)
    return team


def personal_team_ensure(user: AbstractBaseUser) -> Team:
    """Return the user's personal team, creating it the first time."""
    team = user.teams.filter(is_personal=True).first()
    return team or team_create(name=f"{user.get_username()}'s team", owner=user, is_personal=True)


def membership_add(*, team: Team, user: AbstractBaseUser, role: str = Membership.Role.MEMBER) -> Membership:
    """Add a user to a team (or change their role there)."""
    membership, _ = Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
    return membership


def demo_user_ensure() -> tuple[AbstractBaseUser, str]:
    """Make sure the demo account exists; return it with its password.

    The password is random, made on first start and kept in the data folder, so a fresh install has a working
    login without shipping a known password.
    """
    password_file = settings.DATA_DIR / "demo_password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(9))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    user, created = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, password
