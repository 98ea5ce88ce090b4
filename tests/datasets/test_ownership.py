import pytest

from apps.datasets.models import Dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_dataset(alice, lab):
    return Dataset.objects.create(team=lab, created_by=alice, name="Alice's parts", status="ready")


ROUTES = [
    ("get", "/api/datasets/{id}/"),
    ("patch", "/api/datasets/{id}/"),
    ("delete", "/api/datasets/{id}/"),
    ("get", "/api/datasets/{id}/images/"),
    ("get", "/api/datasets/{id}/upload/"),
    ("put", "/api/datasets/{id}/upload/"),
    ("get", "/datasets/{id}/"),
    ("get", "/datasets/{id}/delete/"),
    ("post", "/datasets/{id}/delete/"),
    ("post", "/datasets/{id}/rename/"),
    ("get", "/datasets/{id}/images/1/thumbnail/"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_it_validates_ownership(client, charlie, alices_dataset, method, route):
    client.force_login(charlie)

    response = getattr(client, method)(route.format(id=alices_dataset.pk))

    assert response.status_code == 404
    assert "Alice" not in response.content.decode()
    assert Dataset.objects.filter(pk=alices_dataset.pk, name="Alice's parts").exists()


def test_teammates_see_the_dataset_and_outsiders_do_not_list_it(client, alice, bob, charlie, alices_dataset):
    client.force_login(bob)
    assert client.get(f"/api/datasets/{alices_dataset.pk}/").status_code == 200
    assert [d["id"] for d in client.get("/api/datasets/").json()] == [alices_dataset.pk]

    client.force_login(charlie)
    assert client.get("/api/datasets/").json() == []


def test_an_outsider_cannot_upload_into_another_team(client, alice, charlie):
    client.force_login(charlie)

    response = client.post("/api/datasets/uploads/", {"name": "x", "size": 10, "team": alice.teams.get().pk},
                           content_type="application/json")

    assert response.status_code == 400 and "not a member" in response.json()["team"][0]
    assert not Dataset.objects.exists()
