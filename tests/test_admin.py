import pytest
from django.contrib.admin import site as admin_site
from django.contrib.auth import get_user_model

from apps.datasets.models import Dataset
from apps.runs.models import Run

pytestmark = pytest.mark.django_db


def test_staff_see_runs_by_status_with_their_workers_heartbeats(client, alice):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    dataset = Dataset.objects.create(team=alice.teams.get(), name="Parts", status="ready")
    Run.objects.create(team=dataset.team, dataset=dataset, name="Stuck run", status="running", worker="gpu-1:42:7",
                       budget_seconds=60, original_budget_seconds=60)
    client.force_login(admin)

    page = client.get("/admin/runs/run/?status__exact=running").content.decode()

    assert "Stuck run" in page and "gpu-1:42:7" in page
    assert client.get("/admin/datasets/dataset/").status_code == 200


def test_the_admin_is_closed_to_ordinary_users(client, alice):
    client.force_login(alice)

    assert client.get("/admin/runs/run/").status_code == 302


def test_every_admin_list_opens_for_staff(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123"))

    for model in admin_site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("username", ["root", " root", "ｒｏｏｔ"])
def test_the_admin_login_is_locked_after_repeated_wrong_passwords(client, fresh_throttles, username):
    from apps.accounts.throttle import MAX_FAILED_LOGINS

    get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    for _ in range(MAX_FAILED_LOGINS):
        client.post("/admin/login/", {"username": "root", "password": "guess"})

    response = client.post("/admin/login/", {"username": username, "password": "pw-root-123"})

    assert response.status_code == 200 and "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_login_still_lets_staff_in(client, fresh_throttles):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.post("/admin/login/", {"username": "root", "password": "guess"})

    assert client.post("/admin/login/", {"username": "root", "password": "pw-root-123"}).status_code == 302
