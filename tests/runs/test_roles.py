"""Viewers look and download; they cannot launch, cancel, extend or delete runs, through the API, the pages or the
services themselves."""

import pytest

from apps.accounts.models import Membership
from apps.accounts.permissions import TeamPermissionDenied
from apps.accounts.services import membership_add
from apps.runs import services
from apps.runs.models import Run

pytestmark = pytest.mark.django_db

VIEWER_REFUSAL = "Viewers of “Lab” cannot {}; ask an owner to make you a member."


@pytest.fixture
def viewer(bob, lab):
    membership_add(team=lab, user=bob, role=Membership.Role.VIEWER)
    return bob


@pytest.fixture
def active_run(alice, ready_dataset):
    return Run.objects.create(team=ready_dataset.team, created_by=alice, dataset=ready_dataset, name="Busy",
                              budget_seconds=300, original_budget_seconds=300, status="running")


def test_a_viewer_cannot_launch_a_run(client, viewer, ready_dataset):
    client.force_login(viewer)

    response = client.post("/api/runs/", {"dataset": ready_dataset.pk, "budget_seconds": 300},
                           content_type="application/json")

    assert response.status_code == 403
    assert response.json()["detail"] == VIEWER_REFUSAL.format("launch runs")
    assert not Run.objects.exists()


@pytest.mark.parametrize(("method", "route", "doing"), [
    ("post", "/api/runs/{id}/cancel/", "cancel runs"),
    ("post", "/api/runs/{id}/extend/", "extend runs"),
])
def test_a_viewer_cannot_change_an_active_run(client, viewer, active_run, method, route, doing):
    client.force_login(viewer)

    response = getattr(client, method)(route.format(id=active_run.pk), {"seconds": 60},
                                       content_type="application/json")

    assert response.status_code == 403 and response.json()["detail"] == VIEWER_REFUSAL.format(doing)
    active_run.refresh_from_db()
    assert active_run.status == "running" and not active_run.cancel_requested and active_run.budget_seconds == 300


def test_a_viewer_cannot_delete_a_run_but_can_look_and_download(client, viewer, finished_run):
    client.force_login(viewer)

    deleted = client.delete(f"/api/runs/{finished_run.pk}/")

    assert deleted.status_code == 403 and deleted.json()["detail"] == VIEWER_REFUSAL.format("delete runs")
    assert Run.objects.filter(pk=finished_run.pk).exists()
    assert client.get(f"/api/runs/{finished_run.pk}/").status_code == 200
    assert client.get(f"/api/runs/{finished_run.pk}/result/").status_code == 200
    download = client.get(f"/api/runs/{finished_run.pk}/artifacts/bundle/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"bundle bytes"


def test_a_viewer_may_try_the_model(client, viewer, finished_run):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(viewer)

    response = client.post(f"/api/runs/{finished_run.pk}/predict/",
                           {"image": SimpleUploadedFile("x.png", b"not an image")})

    assert response.status_code == 400 and "not an image" in response.json()["image"][0]  # refused for the file


def test_the_run_pages_hide_the_controls_and_refuse_a_viewers_launch(client, viewer, active_run, ready_dataset):
    client.force_login(viewer)
    client.post("/accounts/teams/switch/", {"team": ready_dataset.team_id})

    detail = client.get(f"/runs/{active_run.pk}/").content.decode()
    runs = client.get("/runs/").content.decode()
    form = client.get("/runs/new/").content.decode()
    launched = client.post("/runs/new/", {"dataset": ready_dataset.pk, "budget": "quick", "target": "any",
                                          "strategy": "auto", "seed": 0, "block_types": ["plain"]})

    assert "cancel-button" not in detail and "data-extend" not in detail
    assert "New search" not in runs
    assert VIEWER_REFUSAL.format("launch runs").replace("'", "&#x27;") in form
    assert launched.status_code == 403
    assert VIEWER_REFUSAL.format("launch runs").replace("'", "&#x27;") in launched.content.decode()
    assert Run.objects.count() == 1


def test_members_keep_every_control(client, bob, active_run):
    client.force_login(bob)  # a member of alice's Lab (tests/conftest.py)

    assert "cancel-button" in client.get(f"/runs/{active_run.pk}/").content.decode()
    assert client.post(f"/api/runs/{active_run.pk}/cancel/").status_code == 200


def test_the_services_refuse_viewers_whatever_calls_them(viewer, ready_dataset, active_run):
    with pytest.raises(TeamPermissionDenied, match="cannot launch runs"):
        services.run_create(team=ready_dataset.team, user=viewer, dataset=ready_dataset, budget_seconds=300)
    with pytest.raises(TeamPermissionDenied, match="cannot cancel runs"):
        services.run_cancel(run=active_run, user=viewer)
    with pytest.raises(TeamPermissionDenied, match="cannot extend runs"):
        services.run_extend(run=active_run, user=viewer, seconds=60)
    with pytest.raises(TeamPermissionDenied, match="cannot delete runs"):
        services.run_delete(run=active_run, user=viewer)
