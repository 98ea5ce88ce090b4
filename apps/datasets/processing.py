"""What a worker does with an uploaded dataset: unpack, decode, check and store it.

Only workers import this module: the ingestion pipeline loads PyTorch, which the web process never needs.
"""

import logging
import shutil
import tempfile
import time
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from apps.live.services import team_event_publish
from apps.nas.data import ImageDataset

from .archives import ArchiveError
from .ingestion import IngestionResult, ingest_archive, training_copy
from .models import Dataset, DatasetImage
from .storage import storage_download

logger = logging.getLogger(__name__)
PROGRESS_INTERVAL_SECONDS = 0.25


# For a failure that is not the data's fault: the traceback goes to the worker's log, never to the user.
INTERNAL_FAILURE = ("Something went wrong on NASweb's side while processing this upload, not with your data. It has "
                    "been logged for the administrator; try uploading it again later.")


def dataset_ingest(*, dataset_id: int) -> None:
    """Extract, decode, check and store a dataset; safe to run again for the same message.

    Every failure ends with the dataset failed and a reason in plain words: the archive's own when it was refused,
    else a general one. None is raised to the actor, whose retries could only fail the same way.
    """
    dataset = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.INGESTING).first()
    if dataset is None:
        return  # deleted, or already ingested by an earlier delivery of this message
    progress = IngestionProgress(dataset)
    try:
        with tempfile.TemporaryDirectory(prefix="nasweb-ingest-") as scratch:
            scratch = Path(scratch)
            local_archive = scratch / "upload"
            storage_download(dataset.archive, local_archive)
            result = ingest_archive(local_archive, scratch / "extracted", scratch / "out", on_progress=progress)
            dataset_store_result(dataset, result, scratch / "out")
    except ArchiveError as refused:
        return dataset_fail(dataset, str(refused))
    except Exception:
        logger.exception("ingestion of dataset %s failed", dataset.pk)
        return dataset_fail(dataset, INTERNAL_FAILURE)
    team_event_publish(team_id=dataset.team_id, payload=dataset_status_event(dataset))


def dataset_training_load(dataset: Dataset, scratch: Path, side: int | None = None) -> ImageDataset:
    """The dataset as the engine trains on it, at `side` pixels (None: as ingested).

    Its pixels are mapped from a file in `scratch`, which must outlive the dataset: 20,000 photos at 224 px are
    3 GB that the kernel's file cache holds instead of the worker. Another side is decoded once from the uploaded
    archive and kept next to the ingested copy for later runs.
    """
    local = scratch / "training.npz"
    # A name of its own: a second load into the same scratch must not truncate a file the first still maps.
    with tempfile.NamedTemporaryFile(dir=scratch, prefix="pixels-", suffix=".npy", delete=False) as mapped:
        pixels = Path(mapped.name)
    if side is None or side == dataset.stats.get("resolution"):
        storage_download(dataset.training_file, local)
        return ImageDataset.load(local, pixels)
    stored = f"{dataset.storage_prefix}/training-{side}.npz"
    if default_storage.exists(stored):
        storage_download(stored, local)
        return ImageDataset.load(local, pixels)
    storage_download(dataset.archive, scratch / "upload")
    training_copy(scratch / "upload", scratch / "extracted", side).save(local)
    shutil.rmtree(scratch / "extracted")
    with open(local, "rb") as saved:
        default_storage.save(stored, File(saved))
    return ImageDataset.load(local, pixels)


def dataset_fail(dataset: Dataset, reason: str) -> None:
    """Mark the dataset failed with `reason`, leaving whatever a failed stage half-set on it unsaved."""
    dataset.status = Dataset.Status.FAILED
    dataset.error = reason
    dataset.save(update_fields=["status", "error", "updated"])
    team_event_publish(team_id=dataset.team_id, payload=dataset_status_event(dataset))


def dataset_store_result(dataset: Dataset, result: IngestionResult, out_dir: Path) -> None:
    """Store the outputs of an ingestion; one without readable images is stored failed, with its findings."""
    prefix = dataset.storage_prefix
    training_name = ""
    if result.training_file:
        with open(out_dir / result.training_file, "rb") as training:
            training_name = default_storage.save(f"{prefix}/training.npz", File(training))
    images = []
    for record in result.records:
        with open(out_dir / record.thumbnail, "rb") as thumbnail:
            stored = default_storage.save(f"{prefix}/thumbnails/{record.thumbnail.rsplit('/', 1)[-1]}",
                                          File(thumbnail))
        images.append(DatasetImage(dataset=dataset, path=record.path, label=record.label, width=record.width,
                                   height=record.height, channels=record.channels, thumbnail=stored))
    errors = [finding.message for finding in result.findings if finding.severity == "error"]
    with transaction.atomic():
        DatasetImage.objects.filter(dataset=dataset).delete()
        DatasetImage.objects.bulk_create(images, batch_size=1000)
        dataset.task = result.task
        dataset.training_file = training_name
        dataset.num_images = len(result.records)
        dataset.classes = result.classes
        dataset.findings = [finding.to_dict() for finding in result.findings]
        dataset.stats = result.stats
        dataset.status = Dataset.Status.READY if result.ok else Dataset.Status.FAILED
        dataset.error = " ".join(errors)
        dataset.save()


def dataset_status_event(dataset: Dataset) -> dict:
    return {"type": "dataset.status", "dataset": dataset.pk, "status": dataset.status, "error": dataset.error,
            "num_images": dataset.num_images}


class IngestionProgress:
    """Publishes ingestion progress to the team's pages, a few times per second at most."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.last_sent = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last_sent < PROGRESS_INTERVAL_SECONDS and done < total:
            return
        self.last_sent = now
        team_event_publish(team_id=self.dataset.team_id, payload={
            "type": "dataset.progress", "dataset": self.dataset.pk, "stage": stage, "done": done, "total": total,
        })
