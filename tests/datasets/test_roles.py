"""Viewers see and download datasets; they cannot upload, rename or delete them."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import Membership
from apps.accounts.services import membership_add
from apps.datasets.models import Dataset

pytestmark = pytest.mark.django_db

REFUSAL = "Viewers of “Lab” cannot {}; ask an owner to make you a member."


@pytest.fixture
def viewer(bob, lab):
    membership_add(team=lab, user=bob, role=Membership.Role.VIEWER)
    return bob


@pytest.fixture
def alices_dataset(alice, lab):
    return Dataset.objects.create(team=lab, created_by=alice, name="Parts", status="ready")


def test_a_viewer_sees_the_dataset_without_its_controls(client, viewer, alices_dataset):
    client.force_login(viewer)

    page = client.get(f"/datasets/{alices_dataset.pk}/").content.decode()

    assert "Parts" in page and "Delete…" not in page and "Save name" not in page
    assert "you can look, not change" in page
    assert client.get(f"/api/datasets/{alices_dataset.pk}/images/").status_code == 200


@pytest.mark.parametrize(("method", "route", "data", "doing"), [
    ("patch", "/api/datasets/{id}/", {"name": "Mine now"}, "rename datasets"),
    ("delete", "/api/datasets/{id}/", None, "delete datasets"),
])
def test_a_viewer_cannot_change_a_dataset_through_the_api(client, viewer, alices_dataset, method, route, data,
                                                          doing):
    client.force_login(viewer)

    response = getattr(client, method)(route.format(id=alices_dataset.pk), data, content_type="application/json")

    assert response.status_code == 403
    assert response.json()["detail"] == REFUSAL.format(doing).replace("&#x27;", "'")
    assert Dataset.objects.filter(pk=alices_dataset.pk, name="Parts").exists()


def test_a_viewer_cannot_upload_into_the_team(client, viewer, lab):
    client.force_login(viewer)
    team = lab.pk

    started = client.post("/api/datasets/uploads/", {"name": "x", "size": 10, "team": team},
                          content_type="application/json")
    sent = client.post("/api/datasets/", {"name": "x", "team": team, "file": SimpleUploadedFile("x.zip", b"PK..")})

    assert started.status_code == 403 and "cannot upload datasets" in started.json()["detail"]
    assert sent.status_code == 403
    assert not Dataset.objects.exists()


@pytest.mark.parametrize(("method", "route", "doing"), [
    ("post", "/datasets/{id}/rename/", "rename datasets"),
    ("get", "/datasets/{id}/delete/", "delete datasets"),
    ("post", "/datasets/{id}/delete/", "delete datasets"),
])
def test_the_pages_refuse_a_viewer_with_the_reason(client, viewer, alices_dataset, method, route, doing):
    client.force_login(viewer)

    response = getattr(client, method)(route.format(id=alices_dataset.pk), {"name": "Mine now"})

    assert response.status_code == 403
    assert REFUSAL.format(doing) in response.content.decode()
    assert Dataset.objects.filter(pk=alices_dataset.pk, name="Parts").exists()


def test_a_viewer_of_the_current_team_gets_no_upload_buttons(client, viewer, lab):
    client.force_login(viewer)
    client.post("/accounts/teams/switch/", {"team": lab.pk})

    listing = client.get("/datasets/").content.decode()
    upload_page = client.get("/datasets/new/")
    sample = client.post("/datasets/sample/")

    assert "Upload a dataset" not in listing and "Try the sample dataset" not in listing
    assert "You are a viewer of Lab" in listing
    assert upload_page.status_code == 403 and REFUSAL.format("upload datasets") in upload_page.content.decode()
    assert sample.status_code == 403 and not Dataset.objects.exists()
