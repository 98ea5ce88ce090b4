from django.conf import settings
from django.db import models


class Team(models.Model):
    """The owner of datasets and runs; every user has a personal team and may join others."""

    name = models.CharField(max_length=100)
    is_personal = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", through_fields=("team", "user"),
                                     related_name="teams")
    # Empty: the deployment's default (NASWEB_TEAM_MAX_*), so changing the setting moves every team without one.
    max_concurrent_runs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Runs queued or running at once. Empty: NASWEB_TEAM_MAX_CONCURRENT_RUNS.")
    max_stored_bytes = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Bytes of uploaded datasets. Empty: NASWEB_TEAM_MAX_STORED_BYTES.")
    max_workers_per_run = models.PositiveIntegerField(
        null=True, blank=True, help_text="Workers one run trains on at once. Empty: all (NASWEB_WORKERS).")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def run_quota(self) -> int:
        limit = self.max_concurrent_runs
        return settings.NASWEB_TEAM_MAX_CONCURRENT_RUNS if limit is None else limit

    @property
    def workers_per_run(self) -> int:
        """Workers a run of this team trains candidates on at once: the deployment's, or fewer if the team says."""
        limit = self.max_workers_per_run
        return settings.NASWEB_WORKERS if limit is None else max(1, min(limit, settings.NASWEB_WORKERS))

    @property
    def storage_quota(self) -> int:
        """Bytes."""
        limit = self.max_stored_bytes
        return settings.NASWEB_TEAM_MAX_STORED_BYTES if limit is None else limit


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        MEMBER = "member"
        VIEWER = "viewer"

    # Roles that may change the team's datasets and runs; viewers only look, download and try models.
    WRITERS = (Role.OWNER, Role.MEMBER)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created = models.DateTimeField(auto_now_add=True)
    # An owner who added this user by name; None when they joined by themselves (a team they made, an invite link).
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    # False until the next page the added user opens has told them (with a button to switch to the team).
    announced = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="one_membership_per_user_and_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class TeamInvite(models.Model):
    """A secret link with which any logged-in user joins a team, until an owner revokes it.

    The key is kept readable (unlike API tokens) so owners can copy the link again; it grants a role in one team,
    never an owner's, and joining shows in the member list.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invites")
    key = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=10, choices=[(Membership.Role.MEMBER, "Member"),
                                                    (Membership.Role.VIEWER, "Viewer")],
                            default=Membership.Role.MEMBER)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"invite to {self.team} as {self.role}"


class ApiToken(models.Model):
    """A named key with which scripts use the API as its user. Only a SHA-256 of the key is stored: the key
    itself is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)  # the key's first characters, to tell tokens apart
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
