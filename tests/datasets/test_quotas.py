"""A team keeps at most its quota of dataset bytes; an upload that does not fit is refused and leaves nothing."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.quotas import QuotaExceeded
from apps.datasets import services
from apps.datasets.models import Dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_team(alice):
    """alice's team with room for 1,000 bytes, 600 of them taken."""
    team = alice.teams.get(is_personal=True)
    team.max_stored_bytes = 1000
    team.save()
    Dataset.objects.create(team=team, created_by=alice, name="Old", status="ready", upload_size=600)
    return team


@pytest.fixture(autouse=True)
def logged_in(client, alice):
    client.force_login(alice)


def test_an_upload_that_does_not_fit_is_refused_before_a_byte_is_sent(client, small_team):
    response = client.post("/api/datasets/uploads/", {"name": "Big", "size": 500}, content_type="application/json")

    assert response.status_code == 429
    detail = response.json()["detail"]
    assert detail.startswith("Team “alice's team” stores 600\xa0bytes of its 1000\xa0bytes quota, so this upload of "
                             "500\xa0bytes does not fit (400\xa0bytes left).")
    assert "Delete datasets you no longer need" in detail
    assert list(Dataset.objects.values_list("name", flat=True)) == ["Old"]


def stored_folders() -> set[str]:
    return set(default_storage.listdir("datasets")[0]) if default_storage.exists("datasets") else set()


def test_a_whole_file_upload_that_does_not_fit_stores_nothing(client, small_team):
    before = stored_folders()

    response = client.post("/api/datasets/", {"name": "Big", "file": SimpleUploadedFile("big.zip", b"x" * 500)})

    assert response.status_code == 429 and "does not fit" in response.json()["detail"]
    assert Dataset.objects.count() == 1 and stored_folders() == before


def test_an_upload_that_fits_goes_through(client, small_team):
    response = client.post("/api/datasets/uploads/", {"name": "Small", "size": 400}, content_type="application/json")

    assert response.status_code == 201


def test_unfinished_uploads_count_so_parallel_ones_cannot_overrun_the_quota(client, small_team):
    first = client.post("/api/datasets/uploads/", {"name": "A", "size": 300}, content_type="application/json")
    second = client.post("/api/datasets/uploads/", {"name": "B", "size": 300}, content_type="application/json")

    assert first.status_code == 201 and second.status_code == 429


def test_an_upload_is_refused_at_its_end_if_the_quota_shrank_meanwhile(client, small_team):
    started = client.post("/api/datasets/uploads/", {"name": "Late", "size": 10}, content_type="application/json")
    dataset = Dataset.objects.get(pk=started.json()["id"])
    part = services.upload_part_path(dataset)
    small_team.max_stored_bytes = 605
    small_team.save()

    response = client.put(f"/api/datasets/{dataset.pk}/upload/", b"0123456789",
                          content_type="application/octet-stream", HTTP_CONTENT_RANGE="bytes 0-9/10")

    assert response.status_code == 429 and "does not fit" in response.json()["detail"]
    assert not Dataset.objects.filter(pk=dataset.pk).exists() and not part.exists()


def test_the_sample_dataset_explains_a_full_quota(client, small_team):
    small_team.max_stored_bytes = 600
    small_team.save()

    response = client.post("/datasets/sample/", follow=True)

    assert "does not fit" in response.content.decode()
    assert Dataset.objects.count() == 1


def test_the_team_page_shows_the_bytes_against_the_quota(client, small_team):
    page = client.get(f"/accounts/teams/{small_team.pk}/").content.decode()

    assert "600\xa0bytes of 1000\xa0bytes" in page and 'style="width: 60%"' in page


def test_the_service_refuses_whoever_calls_it(alice, small_team):
    with pytest.raises(QuotaExceeded):
        services.dataset_upload_start(team=small_team, user=alice, name="Big", size=401)
