"""An upload whose worker died, or whose message was lost, is sent again by the reaper; it never stays "ingesting"."""

from datetime import timedelta

import dramatiq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.datasets import processing, services
from apps.datasets.models import Dataset
from tests.datasets.conftest import class_folder_files, zip_bytes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_configurations]


@pytest.fixture
def stalled_upload(api_client, alice, tmp_path):
    """A finished upload whose message was lost (the broker restarted): ingesting, and no worker knows of it."""

    def send() -> Dataset:
        api_client.force_login(alice)
        file = SimpleUploadedFile("pets.zip", zip_bytes(class_folder_files({"cat": 5, "dog": 5}), tmp_path))
        response = api_client.post("/api/datasets/", {"file": file, "name": "Pets"}, format="multipart")
        assert response.status_code == 201, response.content
        dramatiq.get_broker().flush_all()
        return Dataset.objects.get(pk=response.json()["id"])

    return send


def claimed_by_a_dead_worker(dataset: Dataset, worker: str = "gone:1:1") -> None:
    assert processing.dataset_claim(dataset_id=dataset.pk, worker=worker) is not None
    Dataset.objects.filter(pk=dataset.pk).update(lease_expires=timezone.now() - timedelta(seconds=1))


def test_an_upload_whose_worker_died_is_sent_again_and_ingested(stalled_upload, request):
    dataset = stalled_upload()
    claimed_by_a_dead_worker(dataset)
    drain = request.getfixturevalue("drain")  # a worker starts now, the lost message gone

    assert services.datasets_reap() == 1
    drain()

    dataset.refresh_from_db()
    assert dataset.status == "ready" and dataset.num_images == 10
    assert dataset.attempts == 2 and dataset.lease_expires is None


def test_an_upload_whose_worker_keeps_dying_ends_failed_and_says_why(stalled_upload, api_client):
    dataset = stalled_upload()

    for attempt in range(1, services.MAX_INGESTION_ATTEMPTS + 1):
        claimed_by_a_dead_worker(dataset, worker=f"gone:{attempt}:1")
        assert services.datasets_reap() == 1

    dataset.refresh_from_db()
    assert dataset.status == "failed"
    reason = (f"The worker processing this upload stopped {services.MAX_INGESTION_ATTEMPTS} times; upload it again, "
              "or ask your administrator to check the workers' memory.")
    assert dataset.error == reason
    assert api_client.get(f"/api/datasets/{dataset.pk}/").json()["error"] == reason
    assert reason.replace("'", "&#x27;") in api_client.get(f"/datasets/{dataset.pk}/").content.decode()


def test_a_duplicate_message_finds_the_upload_claimed_and_does_nothing(stalled_upload):
    dataset = stalled_upload()
    assert processing.dataset_claim(dataset_id=dataset.pk, worker="busy:1:1") is not None

    processing.dataset_ingest(dataset_id=dataset.pk)

    dataset.refresh_from_db()
    assert (dataset.status, dataset.worker, dataset.attempts, dataset.num_images) == ("ingesting", "busy:1:1", 1, 0)
    assert services.datasets_reap() == 0, "its lease is alive"


def test_a_worker_that_lost_the_upload_writes_nothing(stalled_upload):
    dataset = processing.dataset_claim(dataset_id=stalled_upload().pk, worker="slow:1:1")
    Dataset.objects.filter(pk=dataset.pk).update(worker="", lease_expires=None)  # the reaper gave it to another

    processing.dataset_fail(dataset, "too late")

    assert Dataset.objects.get(pk=dataset.pk).status == "ingesting"


def test_an_upload_nobody_claimed_for_two_minutes_is_sent_again(stalled_upload, request):
    dataset = stalled_upload()
    assert services.datasets_reap() == 0, "just sent: its message may still be on its way"

    long_ago = timezone.now() - timedelta(seconds=services.REQUEUE_AFTER_SECONDS + 1)
    Dataset.objects.filter(pk=dataset.pk).update(enqueued_at=long_ago)
    drain = request.getfixturevalue("drain")
    assert services.datasets_reap() == 1
    drain()

    dataset.refresh_from_db()
    assert dataset.status == "ready" and dataset.attempts == 1


def test_the_heartbeat_keeps_a_long_stage_from_being_reaped(stalled_upload, settings):
    settings.NASWEB_LEASE_SECONDS = 0.3
    dataset = stalled_upload()
    claimed_by_a_dead_worker(dataset, worker="alive:1:1")
    lease = processing.IngestionLease(Dataset.objects.get(pk=dataset.pk))

    lease.start()
    try:
        renewed = False
        for _ in range(100):
            if Dataset.objects.get(pk=dataset.pk).lease_expires > timezone.now():
                renewed = True
                break
            lease.stopping.wait(0.05)
    finally:
        lease.stop()
        lease.join()

    assert renewed and services.datasets_reap() == 0
