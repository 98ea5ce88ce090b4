import hashlib
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.accounts.models import Team
from apps.datasets.models import Dataset
from apps.nas.names import STRATEGIES

from .budgets import MAX_EXTENSION_FACTOR

# What Run.best keeps of the engine's BestModel, for lists and comparisons without loading the whole result.
RUN_BEST_FIELDS = ("test_accuracy", "val_accuracy", "params", "flops", "latency_ms", "size_mb", "genotype",
                   "genotype_summary", "name")

# Bounds of a run's numeric options, well inside their columns: a billion parameters is far beyond any network the
# search builds, so a larger limit means nothing; the seed is a 32-bit integer column.
MAX_PARAMS_LIMIT = 10**9
MAX_SEED = 2**31 - 1
MAX_PARAMS_MESSAGE = f"A parameter limit is a whole number from 1 to {MAX_PARAMS_LIMIT:,}."
SEED_MESSAGE = f"A seed is a whole number from 0 to {MAX_SEED:,}."

# A queued run that no worker took for this long says that it waits for one (all busy, or none running).
UNCLAIMED_NOTICE_SECONDS = 30


class Run(models.Model):
    """One architecture search on a dataset, from queued to a downloadable model.

    The database is the source of truth for a run's state: a worker claims a queued run with a conditional update,
    keeps a lease alive with heartbeats, and a reaper re-queues runs whose lease went stale.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="runs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # PROTECT: a dataset that a run was trained on stays until the run is deleted.
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="runs")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)

    budget_seconds = models.FloatField()
    original_budget_seconds = models.FloatField()
    strategy = models.CharField(max_length=20, choices=list(STRATEGIES.items()), default="auto")
    seed = models.IntegerField(default=0)
    max_latency_ms = models.FloatField(null=True, blank=True)
    max_params = models.PositiveBigIntegerField(null=True, blank=True)
    max_model_mb = models.FloatField(null=True, blank=True)
    # Search-space toggles passed to the engine's SearchSpace, e.g. {"block_types": ["plain", "mbconv"]}.
    space = models.JSONField(default=dict, blank=True)
    # Side in pixels the images are trained at; None: the dataset's training copy as ingested.
    resolution = models.PositiveSmallIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)

    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)  # who holds the lease: host:pid:thread
    lease_expires = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    device = models.CharField(max_length=100, blank=True)
    workers = models.PositiveSmallIntegerField(default=1)  # trial slots: workers training its candidates at once

    progress = models.FloatField(default=0.0)  # 0..1 of the budget
    eta_seconds = models.FloatField(null=True, blank=True)
    best = models.JSONField(null=True, blank=True)  # RUN_BEST_FIELDS of the result's best model
    result = models.JSONField(null=True, blank=True)  # the engine's SearchResult (apps.nas.results)
    artifacts = models.JSONField(default=dict)  # kind -> path in default storage
    last_event_seq = models.PositiveIntegerField(default=0)

    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["status", "lease_expires"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def extension_limit_seconds(self) -> float:
        """The most budget extensions may bring it to."""
        return self.original_budget_seconds * MAX_EXTENSION_FACTOR

    def waiting_for_worker_since(self, now: datetime | None = None) -> datetime | None:
        """Since when a run that should be training waits for a worker, or None: its worker stopped renewing the
        lease (the last time it did), or it was queued and no worker took it for UNCLAIMED_NOTICE_SECONDS (when it
        was queued; for a re-queued run, when its last worker was last heard of)."""
        now = now or timezone.now()
        if self.status == self.Status.RUNNING and self.lease_expires is not None and self.lease_expires < now:
            return self.heartbeat_at or self.lease_expires
        if self.status != self.Status.QUEUED:
            return None
        if self.attempts and self.heartbeat_at is not None:
            return self.heartbeat_at
        queued = self.enqueued_at or self.created
        return queued if now - queued > timedelta(seconds=UNCLAIMED_NOTICE_SECONDS) else None

    @property
    def storage_prefix(self) -> str:
        """Where the run's model files live in the default storage."""
        return f"runs/{self.pk}"

    @property
    def work_dir(self) -> Path:
        """The engine's checkpoints and exports; on several machines this folder must be shared so another worker
        can resume."""
        return Path(settings.NASWEB_RUNS_DIR) / str(self.pk)


class RunSlot(models.Model):
    """A worker evaluating a run's candidates beside the one that coordinates it (slot 1, 2, ...) in one attempt of
    the run; the row is the slot's claim, so a duplicated message for the same slot does nothing, and the next
    attempt (after its coordinator died) claims its slots anew."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="slots")
    attempt = models.PositiveSmallIntegerField(default=1)  # the run's attempts when the slot was claimed
    slot = models.PositiveSmallIntegerField()
    worker = models.CharField(max_length=200)
    started = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["attempt", "slot"]
        constraints = [models.UniqueConstraint(fields=["run", "attempt", "slot"], name="one_claim_per_attempt_slot")]

    def __str__(self) -> str:
        return f"{self.run_id} slot {self.slot} on {self.worker}"


class RunEvent(models.Model):
    """Every engine event of a run, numbered, so a page can be rebuilt or catch up at any time."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=40)
    payload = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="one_event_per_run_and_seq")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.type}"


class ShareLink(models.Model):
    """A secret, revocable, read-only link to a run's result for people without an account.

    Only a hash of the token is stored: the link is shown once, and a copy of the database opens nothing.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="share_links")
    token_hash = models.CharField(max_length=64, unique=True)  # sha256 hex
    token_hint = models.CharField(max_length=8)  # the token's first characters, to tell links apart
    allow_download = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created"]

    def __str__(self) -> str:
        return f"{self.run} ({self.token_hint}…)"

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class Note(models.Model):
    """A teammate's markdown note on a run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(max_length=10_000)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "pk"]

    def __str__(self) -> str:
        return f"{self.run} note {self.pk}"
