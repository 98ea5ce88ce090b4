import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.live.services import membership_changed_publish

from .errors import DomainError
from .models import ApiToken, Membership, Team, TeamInvite
from .permissions import owner_check
from .selectors import personal_team_get

DEMO_USERNAME = "demo"
TOKEN_PREFIX = "nw_"
TOKEN_VISIBLE_CHARS = 8  # "nw_" and 5 random characters: enough to tell a user's tokens apart, useless to guess


class TeamRuleError(DomainError):
    """A team change that breaks a rule (the last owner leaving, a personal team shared…); the message says why."""


@transaction.atomic
def team_create(*, name: str, owner: AbstractBaseUser, is_personal: bool = False) -> Team:
    """Create a team with its owner as first member."""
    team = Team.objects.create(name=name, is_personal=is_personal)
    Membership.objects.create(user=owner, team=team, role=Membership.Role.OWNER)
    if not is_personal:  # a personal team comes with its user, who has no socket open yet
        membership_changed_on_commit(user=owner, team=team, joined=True)
    return team


def personal_team_ensure(user: AbstractBaseUser) -> Team:
    """Return the user's personal team, creating it the first time."""
    team = personal_team_get(user=user)
    return team or team_create(name=f"{user.get_username()}'s team", owner=user, is_personal=True)


def membership_add(*, team: Team, user: AbstractBaseUser, role: str = Membership.Role.MEMBER) -> Membership:
    """Add a user to a team (or change their role there), with no permission check: for setup code and tests."""
    shared_team_check(team=team)
    membership, _ = Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def member_invite(*, team: Team, by: AbstractBaseUser, username: str, role: str = Membership.Role.MEMBER
                  ) -> Membership:
    """An owner adds an existing user, by username, to the team."""
    owner_check(user=by, team=team, doing="invite people")
    shared_team_check(team=team)
    role_valid_check(role=role)
    users, username = get_user_model().objects, username.strip()
    invitee = users.filter(username=username).first() or users.filter(username__iexact=username).first()
    if invitee is None:
        raise TeamRuleError(f"Nobody is called “{username}” here. Check the spelling, or send an invite "
                            "link instead: it works for people who sign up after opening it.")
    if team.memberships.filter(user=invitee).exists():
        raise TeamRuleError(f"{invitee.get_username()} is already in “{team.name}”.")
    membership = Membership.objects.create(team=team, user=invitee, role=role, added_by=by, announced=False)
    membership_changed_on_commit(user=invitee, team=team, joined=True)
    return membership


@transaction.atomic
def member_role_set(*, team: Team, by: AbstractBaseUser, member: AbstractBaseUser, role: str) -> Membership:
    """An owner changes someone's role; the team always keeps an owner."""
    owner_check(user=by, team=team, doing="change roles")
    role_valid_check(role=role)
    membership = membership_locked(team=team, member=member)
    if membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER:
        last_owner_check(team=team, doing=f"make {member.get_username()} a {role}")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def member_remove(*, team: Team, by: AbstractBaseUser, member: AbstractBaseUser) -> None:
    """An owner removes someone from the team (leaving is team_leave)."""
    if member == by:
        return team_leave(team=team, user=by)
    owner_check(user=by, team=team, doing="remove members")
    membership = membership_locked(team=team, member=member)
    if membership.role == Membership.Role.OWNER:
        last_owner_check(team=team, doing=f"remove {member.get_username()}")
    membership.delete()
    membership_changed_on_commit(user=member, team=team, joined=False)


@transaction.atomic
def team_leave(*, team: Team, user: AbstractBaseUser) -> None:
    """Leave a team: not one's own personal team, and not as its last owner."""
    membership = membership_locked(team=team, member=user)
    if team.is_personal and team == personal_team_get(user=user):
        raise TeamRuleError("This is your personal team: you cannot leave it.")
    if membership.role == Membership.Role.OWNER:
        last_owner_check(team=team, doing="leave")
    membership.delete()
    membership_changed_on_commit(user=user, team=team, joined=False)


def membership_locked(*, team: Team, member: AbstractBaseUser) -> Membership:
    membership = Membership.objects.select_for_update().filter(team=team, user=member).first()
    if membership is None:
        raise TeamRuleError(f"{member.get_username()} is not in “{team.name}”.")
    return membership


def last_owner_check(*, team: Team, doing: str) -> None:
    # Locks every owner row, so two owners demoting each other at once cannot leave the team with none.
    owners = list(team.memberships.select_for_update().filter(role=Membership.Role.OWNER))
    if len(owners) <= 1:
        raise TeamRuleError(f"“{team.name}” needs at least one owner, so you cannot {doing}. "
                            "Make someone else an owner first.")


def role_valid_check(*, role: str) -> None:
    if role not in Membership.Role.values:
        raise TeamRuleError(f"“{role}” is not a role; choose owner, member or viewer.")


# Said to a personal team's owner wherever they would let someone in: on the refusal, and on the team's page.
PERSONAL_TEAM_IS_PRIVATE = "This is your personal team: only you can see it. Create a team to work with others."


def shared_team_check(*, team: Team) -> None:
    """Refuse to let anyone into a personal team: it is its owner's alone."""
    if team.is_personal:
        raise TeamRuleError(PERSONAL_TEAM_IS_PRIVATE)


def invite_refusal(*, invite: TeamInvite) -> str | None:
    """Why a link lets nobody in, or None: one into a personal team was made before personal teams were private."""
    if invite.team.is_personal:
        return (f"“{invite.team.name}” is a personal team: only its owner can see it, so this link lets nobody in. "
                "Ask its owner to invite you to a shared team instead.")
    return None


def invite_usable_check(*, invite: TeamInvite) -> None:
    if (refusal := invite_refusal(invite=invite)) is not None:
        raise TeamRuleError(refusal)


def invite_create(*, team: Team, by: AbstractBaseUser, role: str = Membership.Role.MEMBER) -> TeamInvite:
    """An owner makes a secret link that lets any logged-in user join as `role` (member or viewer)."""
    owner_check(user=by, team=team, doing="create invite links")
    shared_team_check(team=team)
    if role not in (Membership.Role.MEMBER, Membership.Role.VIEWER):
        raise TeamRuleError("An invite link makes people members or viewers; make owners from the member list.")
    return TeamInvite.objects.create(team=team, created_by=by, role=role, key=secrets.token_urlsafe(24))


def invite_revoke(*, invite: TeamInvite, by: AbstractBaseUser) -> TeamInvite:
    """The link stops working at once; people who joined with it stay."""
    owner_check(user=by, team=invite.team, doing="revoke invite links")
    TeamInvite.objects.filter(pk=invite.pk, revoked=None).update(revoked=timezone.now())
    invite.refresh_from_db()
    return invite


@transaction.atomic
def invite_accept(*, invite: TeamInvite, user: AbstractBaseUser) -> Membership:
    """Join the invite's team; someone already in it keeps their role."""
    invite = TeamInvite.objects.select_for_update().get(pk=invite.pk)
    if invite.revoked:
        raise TeamRuleError("This invite link was revoked. Ask the team's owner for a new one.")
    invite_usable_check(invite=invite)
    membership, created = Membership.objects.get_or_create(team=invite.team, user=user,
                                                           defaults={"role": invite.role})
    if created:
        membership_changed_on_commit(user=user, team=invite.team, joined=True)
    return membership


def membership_changed_on_commit(*, user: AbstractBaseUser, team: Team, joined: bool) -> None:
    user_id, team_id = user.pk, team.pk
    transaction.on_commit(lambda: membership_changed_publish(user_id=user_id, team_id=team_id, joined=joined))


def token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new API token and its key; the key is not stored and cannot be shown again."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name.strip()[:100] or "API token", key_hash=token_hash(key),
                                    prefix=key[:TOKEN_VISIBLE_CHARS])
    return token, key


def token_hash(key: str) -> str:
    # A plain SHA-256 is enough (no salt, no slow hash): the keys are 256 random bits, not passwords.
    return hashlib.sha256(key.encode()).hexdigest()


def token_revoke(*, token: ApiToken) -> ApiToken:
    """The token stops working with the next request."""
    ApiToken.objects.filter(pk=token.pk, revoked=None).update(revoked=timezone.now())
    token.refresh_from_db()
    return token


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
