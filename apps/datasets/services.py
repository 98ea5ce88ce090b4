import logging
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.errors import DomainError
from apps.accounts.models import Team
from apps.accounts.permissions import write_access_check
from apps.accounts.quotas import QuotaExceeded, storage_quota_check, team_lock
from apps.activity.models import Activity
from apps.activity.services import activity_record
from nasweb.workers import BROKER_UNREACHABLE, REQUEUE_AFTER_SECONDS

from .models import Dataset
from .progress import dataset_status_publish
from .selectors import team_stored_bytes
from .storage import COPY_CHUNK_BYTES, storage_tree_delete
from .tasks import ingest_dataset

logger = logging.getLogger(__name__)

# An upload whose worker dies this many times (out of memory on it, say) is failed rather than sent to the next one.
MAX_INGESTION_ATTEMPTS = 3


class UploadError(DomainError):
    """An upload cannot be accepted; the message says why."""


class DatasetInUse(DomainError):
    """The dataset cannot be deleted while runs refer to it."""


class UploadOffsetMismatch(UploadError):
    """A chunk does not continue where the stored bytes end: the client must resume from `received`."""

    status_code = 409

    def __init__(self, *, received: int, size: int, status: str):
        super().__init__(f"This upload continues at byte {received}.")
        self.received, self.size, self.status = received, size, status

    def body(self) -> dict:
        return {"received": self.received, "size": self.size, "status": self.status, "detail": str(self)}


def upload_size_check(size: int, *, field: str) -> None:
    """Refuse an empty or oversized upload; `field` names the input that gave the size (the file, or `size`)."""
    limit = settings.NASWEB_MAX_UPLOAD_BYTES
    if size <= 0:
        raise UploadError("The file is empty.", field=field)
    if size > limit:
        raise UploadError(f"The file is {size / 2**30:.1f} GB; the largest upload allowed here is "
                          f"{limit / 2**30:.1f} GB. Split your images into smaller datasets, or ask your "
                          "administrator to raise NASWEB_MAX_UPLOAD_BYTES.", field=field)


@transaction.atomic
def dataset_reserve(*, team: Team, user, name: str, size: int) -> Dataset:
    """Check that the user may upload into the team and that its storage quota has room, then store the dataset:
    from then on its announced size counts against the quota."""
    write_access_check(user=user, team=team, doing="upload datasets")
    team = team_lock(team)
    storage_quota_check(team=team, stored_bytes=team_stored_bytes(team=team), adding_bytes=size)
    return Dataset.objects.create(team=team, created_by=user, name=name, upload_size=size)


def dataset_create_from_file(*, team: Team, user, name: str, file: File) -> Dataset:
    """Store an uploaded archive (streamed, never read whole) and queue its ingestion."""
    upload_size_check(file.size, field="file")
    dataset = dataset_reserve(team=team, user=user, name=name, size=file.size)
    dataset.archive = default_storage.save(f"{dataset.storage_prefix}/upload", file)
    dataset.upload_received = file.size
    dataset_ingestion_queue(dataset)
    return dataset


def dataset_upload_start(*, team: Team, user, name: str, size: int) -> Dataset:
    """Open a resumable upload: the client then sends the bytes in order, in chunks."""
    upload_size_check(size, field="size")
    dataset = dataset_reserve(team=team, user=user, name=name, size=size)
    upload_part_path(dataset).touch()
    return dataset


def upload_part_path(dataset: Dataset) -> Path:
    # Chunks land on the web machine's disk: storage backends such as S3 cannot append.
    folder = settings.DATA_DIR / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"dataset-{dataset.pk}.part"


def dataset_upload_append(*, dataset_id: int, user, offset: int, chunk: BinaryIO) -> Dataset:
    """Append one chunk at `offset`; the last chunk queues the ingestion, if the team's quota still has room."""
    refused = None
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset_id)
        write_access_check(user=user, team=dataset.team, doing="upload datasets")
        if dataset.status != Dataset.Status.UPLOADING:
            raise UploadError("This upload is already complete.")
        if offset != dataset.upload_received:
            raise UploadOffsetMismatch(received=dataset.upload_received, size=dataset.upload_size,
                                       status=dataset.status)
        part = upload_part_path(dataset)
        with open(part, "r+b") as target:
            target.truncate(offset)  # drop the tail of a chunk that was cut off halfway
            target.seek(offset)
            room = dataset.upload_size - offset
            written = copy_at_most(chunk, target, room)
        if written > room:
            raise UploadError(f"More bytes arrived than the {dataset.upload_size} announced.")
        if written == 0:
            raise UploadError(f"This chunk is empty: send the bytes from {offset} on.")
        dataset.upload_received = offset + written
        dataset.save(update_fields=["upload_received", "updated"])
        if dataset.upload_received == dataset.upload_size:
            refused = storage_room_at_finish(dataset)
            if refused:
                # Committed before raising: an upload the quota cannot take leaves nothing behind.
                dataset.delete()
            else:
                with open(part, "rb") as complete:
                    dataset.archive = default_storage.save(f"{dataset.storage_prefix}/upload", File(complete))
                dataset_ingestion_queue(dataset)
            part.unlink()
    if refused:
        raise refused
    return dataset


def storage_room_at_finish(dataset: Dataset) -> QuotaExceeded | None:
    """The quota was checked when the upload opened; an administrator may have lowered it since."""
    team = team_lock(dataset.team)
    try:
        storage_quota_check(team=team, stored_bytes=team_stored_bytes(team=team) - dataset.upload_size,
                            adding_bytes=dataset.upload_size)
    except QuotaExceeded as refused:
        return refused
    return None


def copy_at_most(source: BinaryIO, target: BinaryIO, limit: int) -> int:
    """Copy in 1 MB pieces; stop one byte past `limit` so an oversized chunk is noticed without reading it all."""
    written = 0
    while written <= limit:
        piece = source.read(min(COPY_CHUNK_BYTES, limit + 1 - written))
        if not piece:
            break
        target.write(piece[: max(0, limit - written)])
        written += len(piece)
    return written


def dataset_ingestion_queue(dataset: Dataset) -> None:

    dataset.status = Dataset.Status.INGESTING
    dataset.save()
    activity_record(team=dataset.team, actor=dataset.created_by, verb=Activity.Verb.DATASET_ADDED, target=dataset)
    transaction.on_commit(lambda: dataset_enqueue(dataset))


def dataset_enqueue(dataset: Dataset) -> None:
    """Send an ingesting dataset to the workers. With the broker unreachable it stays ingesting in the database, the
    source of truth, and the reaper sends it again once the broker is back (REQUEUE_AFTER_SECONDS)."""
    Dataset.objects.filter(pk=dataset.pk).update(enqueued_at=timezone.now())
    try:
        ingest_dataset.send(dataset.pk)
    except BROKER_UNREACHABLE:
        logger.warning("dataset %s: the broker is unreachable; the reaper sends it later", dataset.pk, exc_info=True)


def datasets_reap() -> int:
    """Send again the uploads whose worker died (stale lease) or that no worker claimed; fail those whose worker died
    MAX_INGESTION_ATTEMPTS times. Return how many were touched."""
    now = timezone.now()
    touched = 0
    ingesting = Dataset.objects.filter(status=Dataset.Status.INGESTING)
    for dataset in ingesting.filter(lease_expires__lt=now):
        stale = ingesting.filter(pk=dataset.pk, worker=dataset.worker, lease_expires__lt=now)
        if dataset.attempts >= MAX_INGESTION_ATTEMPTS:
            if stale.update(status=Dataset.Status.FAILED, lease_expires=None, updated=now,
                            error=f"The worker processing this upload stopped {dataset.attempts} times; upload it "
                                  "again, or ask your administrator to check the workers' memory."):
                dataset.refresh_from_db()
                dataset_status_publish(dataset)
                touched += 1
        elif stale.update(worker="", lease_expires=None):
            logger.warning("dataset %s: worker %s stopped responding, sent again", dataset.pk, dataset.worker)
            dataset_enqueue(dataset)
            touched += 1
    stale_queue = now - timedelta(seconds=REQUEUE_AFTER_SECONDS)
    unclaimed = ingesting.filter(Q(enqueued_at__lt=stale_queue) | Q(enqueued_at=None, updated__lt=stale_queue),
                                 worker="")
    for dataset in unclaimed:
        dataset_enqueue(dataset)
        touched += 1
    return touched


def dataset_rename(*, dataset: Dataset, user, name: str) -> Dataset:
    write_access_check(user=user, team=dataset.team, doing="rename datasets")
    dataset.name = name
    dataset.save(update_fields=["name", "updated"])
    activity_record(team=dataset.team, actor=user, verb=Activity.Verb.DATASET_RENAMED, target=dataset)
    return dataset


def dataset_delete(*, dataset: Dataset, user) -> None:
    """Delete a dataset with its files; one that runs were trained on stays until those runs are deleted."""
    write_access_check(user=user, team=dataset.team, doing="delete datasets")
    runs = dataset.runs.count()
    if runs:
        raise DatasetInUse(f"{runs} run{'s were' if runs > 1 else ' was'} trained on this dataset. Delete "
                          f"{'them' if runs > 1 else 'it'} first: a run's result refers to its data.")
    prefix = dataset.storage_prefix
    upload_part_path(dataset).unlink(missing_ok=True)
    activity_record(team=dataset.team, actor=user, verb=Activity.Verb.DATASET_DELETED, target=dataset)
    dataset.delete()
    storage_tree_delete(prefix)


def dataset_create_sample(*, team: Team, user) -> Dataset:
    """The handwritten-digits sample, ingested like any upload, for people without data of their own."""
    from .samples import digits_archive_ensure  # loads scikit-learn, which the web process needs for nothing else

    archive = digits_archive_ensure(settings.DATA_DIR / "samples" / "digits.zip")
    with open(archive, "rb") as handle:
        return dataset_create_from_file(team=team, user=user, name="Handwritten digits (sample)",
                                        file=File(handle, name="digits.zip"))
