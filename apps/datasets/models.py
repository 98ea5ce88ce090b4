from django.conf import settings
from django.db import models

from apps.accounts.models import Team

# Image sides (pixels) a run may train at besides the dataset's ingested side, never above the images' typical
# size (upscaling adds no detail) nor below SMALLEST_SIDE_SHARE of the ingested side (a photo at 8 px shows nothing).
TRAINING_SIDES = (8, 16, 24, 32, 48, 64, 96, 128, 160, 224)
SMALLEST_SIDE_SHARE = 1 / 4


class Dataset(models.Model):
    """Labelled images a team uploaded, checked and turned into a training-ready copy."""

    class Status(models.TextChoices):
        UPLOADING = "uploading"
        INGESTING = "ingesting"
        READY = "ready"
        FAILED = "failed"

    class Task(models.TextChoices):
        IMAGE_CLASSIFICATION = "image-classification", "Image classification"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="datasets")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADING)
    task = models.CharField(max_length=40, choices=Task.choices, blank=True)
    error = models.TextField(blank=True)
    # The original upload, kept so a dataset can be re-ingested when the engine's preprocessing changes.
    archive = models.CharField(max_length=300, blank=True)
    upload_size = models.BigIntegerField(default=0)  # bytes announced by the client
    upload_received = models.BigIntegerField(default=0)  # bytes stored so far (resumable uploads)
    training_file = models.CharField(max_length=300, blank=True)  # the engine's .npz, a path in default storage
    num_images = models.PositiveIntegerField(default=0)
    classes = models.JSONField(default=list)  # [{"name": ..., "count": ...}]
    findings = models.JSONField(default=list)  # [{"severity", "code", "message", "details"}]
    stats = models.JSONField(default=dict)
    # Ingestion's lease, as runs have (apps.runs.models.Run): a worker claims the dataset with a conditional update
    # and keeps lease_expires ahead; the reaper sends it again when the lease goes stale or nobody claimed it.
    # Defaults in the database too: processes still running the code from before these fields insert rows without
    # them while a deployment migrates.
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    worker = models.CharField(max_length=200, blank=True, default="", db_default="")  # host:pid:thread
    lease_expires = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.name

    @property
    def storage_prefix(self) -> str:
        return f"datasets/{self.pk}"

    def can_train(self) -> bool:
        return self.status == self.Status.READY and not any(f["severity"] == "error" for f in self.findings)

    def training_sides(self) -> list[int]:
        """Image sides a run may train at: the ingested side, and standard ones from a quarter of it up to the images'
        typical size."""
        if "resolution" not in self.stats or "width" not in self.stats:
            return []
        ingested = self.stats["resolution"]
        typical = max(self.stats["width"]["median"], self.stats["height"]["median"])
        smallest = SMALLEST_SIDE_SHARE * ingested
        return sorted({ingested, *(side for side in TRAINING_SIDES if smallest <= side <= typical)})


class DatasetImage(models.Model):
    """One decoded image of a dataset, for the gallery and the findings."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    path = models.CharField(max_length=500)  # inside the upload
    label = models.CharField(max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    channels = models.PositiveSmallIntegerField()
    thumbnail = models.CharField(max_length=300)  # a path in default storage

    class Meta:
        ordering = ["label", "path"]
        indexes = [models.Index(fields=["dataset", "label", "path"])]

    def __str__(self) -> str:
        return self.path
