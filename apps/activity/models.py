from django.conf import settings
from django.db import models
from django.urls import reverse

from apps.accounts.models import Team


class Activity(models.Model):
    """One thing a person did in a team, kept for the team's activity feed."""

    class Verb(models.TextChoices):
        DATASET_ADDED = "dataset_added"
        DATASET_RENAMED = "dataset_renamed"
        DATASET_DELETED = "dataset_deleted"
        RUN_LAUNCHED = "run_launched"
        RUN_CANCELLED = "run_cancelled"
        RUN_EXTENDED = "run_extended"
        RUN_DELETED = "run_deleted"
        SHARE_CREATED = "share_created"
        SHARE_REVOKED = "share_revoked"
        NOTE_ADDED = "note_added"
        MEMBER_JOINED = "member_joined"
        MEMBER_LEFT = "member_left"

    # What the feed says after the actor's name; the target's name, if any, follows.
    PHRASES = {
        Verb.DATASET_ADDED: "added the dataset",
        Verb.DATASET_RENAMED: "renamed a dataset to",
        Verb.DATASET_DELETED: "deleted the dataset",
        Verb.RUN_LAUNCHED: "launched the run",
        Verb.RUN_CANCELLED: "stopped the run",
        Verb.RUN_EXTENDED: "gave more time to the run",
        Verb.RUN_DELETED: "deleted the run",
        Verb.SHARE_CREATED: "shared a read-only link to the run",
        Verb.SHARE_REVOKED: "revoked a share link of the run",
        Verb.NOTE_ADDED: "added a note to the run",
        Verb.MEMBER_JOINED: "joined the team",
        Verb.MEMBER_LEFT: "left the team",
    }

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    verb = models.CharField(max_length=20, choices=Verb.choices)
    target_kind = models.CharField(max_length=20, blank=True)  # "dataset", "run" or "" for the team itself
    # None once the target is deleted, so the feed stops linking to it.
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["team", "-created"])]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return self.text

    @property
    def actor_name(self) -> str:
        return self.actor.get_username() if self.actor else "someone"

    @property
    def phrase(self) -> str:
        return self.PHRASES[self.verb]

    def target_url(self) -> str | None:
        """The page of the dataset or run this is about, while it exists."""
        if self.target_id is None or self.target_kind not in ("dataset", "run"):
            return None
        return reverse(f"{self.target_kind}-detail", args=[self.target_id])

    @property
    def text(self) -> str:
        """The feed's sentence, e.g. alice launched the run “Digits quick”."""
        target = f" “{self.target_label}”" if self.target_label else ""
        return f"{self.actor_name} {self.phrase}{target}"
