"""What a worker does with an uploaded dataset: unpack, decode, check and store it.

Only workers import this module: the ingestion pipeline loads PyTorch, which the web process never needs.
"""

import logging
import shutil
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.nas.data import ImageDataset
from nasweb.workers import worker_identity

from .archives import ArchiveError
from .ingestion import IngestionResult, ingest_archive, training_copy
from .models import Dataset, DatasetImage
from .progress import IngestionProgress, dataset_status_publish
from .storage import storage_download

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10


# For a failure that is not the data's fault: the traceback goes to the worker's log, never to the user.
INTERNAL_FAILURE = ("Something went wrong on NASweb's side while processing this upload, not with your data. It has "
                    "been logged for the administrator; try uploading it again later.")


def dataset_ingest(*, dataset_id: int) -> None:
    """Extract, decode, check and store a dataset; safe to run again for the same message.

    Every failure ends with the dataset failed and a reason in plain words: the archive's own when it was refused,
    else a general one. None is raised to the actor, whose retries could only fail the same way.
    """
    dataset = dataset_claim(dataset_id=dataset_id, worker=worker_identity())
    if dataset is None:
        return  # deleted, ingested, or being ingested by another delivery of this message
    progress = IngestionProgress(dataset)
    lease = IngestionLease(dataset)
    lease.start()
    try:
        with tempfile.TemporaryDirectory(prefix="nasweb-ingest-") as scratch:
            scratch = Path(scratch)
            local_archive = scratch / "upload"
            storage_download(dataset.archive, local_archive)
            result = ingest_archive(local_archive, scratch / "extracted", scratch / "out", on_progress=progress)
            dataset_store_result(dataset, result, scratch / "out")
    except ArchiveError as refused:
        dataset_fail(dataset, str(refused))
    except Exception:
        logger.exception("ingestion of dataset %s failed", dataset.pk)
        dataset_fail(dataset, INTERNAL_FAILURE)
    finally:
        lease.stop()


def dataset_claim(*, dataset_id: int, worker: str) -> Dataset | None:
    """Take an ingesting dataset no worker holds, atomically; None when it is not there to take."""
    claimed = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.INGESTING, worker="").update(
        worker=worker, attempts=F("attempts") + 1,
        lease_expires=timezone.now() + timedelta(seconds=settings.NASWEB_LEASE_SECONDS))
    return Dataset.objects.get(pk=dataset_id) if claimed else None


class IngestionLease(threading.Thread):
    """Keeps a claimed dataset's lease ahead of the reaper: one stage (decoding 20,000 photos) can take minutes."""

    def __init__(self, dataset: Dataset):
        super().__init__(daemon=True, name=f"lease-dataset-{dataset.pk}")
        self.dataset_id, self.worker = dataset.pk, dataset.worker
        self.stopping = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.stopping.wait(min(HEARTBEAT_SECONDS, settings.NASWEB_LEASE_SECONDS / 3)):
                Dataset.objects.filter(pk=self.dataset_id, worker=self.worker, status=Dataset.Status.INGESTING).update(
                    lease_expires=timezone.now() + timedelta(seconds=settings.NASWEB_LEASE_SECONDS))
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()


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
    """Mark the dataset failed with `reason` if this worker still holds it, leaving whatever a failed stage half-set
    on it unsaved."""
    if ingesting_here(dataset).update(status=Dataset.Status.FAILED, error=reason, lease_expires=None,
                                      updated=timezone.now()):
        dataset.status, dataset.error = Dataset.Status.FAILED, reason
        dataset_status_publish(dataset)


def ingesting_here(dataset: Dataset):
    """The dataset, while the worker that claimed it still holds it: a worker presumed dead and replaced writes
    nothing."""
    return Dataset.objects.filter(pk=dataset.pk, status=Dataset.Status.INGESTING, worker=dataset.worker)


def dataset_store_result(dataset: Dataset, result: IngestionResult, out_dir: Path) -> None:
    """Store the outputs of an ingestion, if this worker still holds the dataset; one without readable images is
    stored failed, with its findings."""
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
        if not ingesting_here(dataset).select_for_update().exists():
            return
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
        dataset.lease_expires = None
        dataset.save()
    dataset_status_publish(dataset)
