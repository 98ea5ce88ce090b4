import pytest
from django.test import Client

from apps.accounts.models import Membership
from apps.accounts.services import membership_add
from apps.activity.models import Activity
from apps.runs.models import ShareLink
from apps.runs.services import share_link_create, share_link_revoke

pytestmark = pytest.mark.django_db


def share(run, user, allow_download=False) -> tuple[ShareLink, str]:
    return share_link_create(run=run, user=user, allow_download=allow_download)


def test_anyone_with_the_link_sees_the_result_read_only(finished_run, alice):
    _, token = share(finished_run, alice)

    page = Client().get(f"/share/{token}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Parts sorter" in html and f'data-api="/api/shared/{token}/"' in html
    # What the page says of the time the run took is read against its budget.
    assert f'data-budget-seconds="{finished_run.budget_seconds:.0f}"' in html
    for control in ("cancel-button", "data-extend", "note-body", "try-image", "/shares/", "/notes/", "data-live"):
        assert control not in html
    assert "Parts" not in html.replace("Parts sorter", ""), "the dataset's name is the team's business"
    assert page["X-Robots-Tag"] == "noindex, nofollow" and "no-store" in page["Cache-Control"]


def test_a_link_opens_its_runs_result_api_without_an_account(finished_run, alice):
    _, token = share(finished_run, alice)
    anonymous = Client()

    run = anonymous.get(f"/api/shared/{token}/").json()
    result = anonymous.get(f"/api/shared/{token}/result/").json()
    events = anonymous.get(f"/api/shared/{token}/events/")

    assert run["name"] == "Parts sorter" and run["artifacts"] == [] and not run["allow_download"]
    assert result["best"] == finished_run.result["best"]
    assert events.status_code == 200


def test_a_link_shows_neither_the_teams_images_nor_file_paths_nor_machines(finished_run, alice):
    finished_run.events.create(seq=1, type="trial_started", payload={"type": "trial_started", "worker": "gpu-7:41"})
    finished_run.events.create(seq=2, type="run_finished", payload={"type": "run_finished", "files": {"onnx": "/srv"}})
    _, token = share(finished_run, alice)

    result = Client().get(f"/api/shared/{token}/result/").json()
    events = Client().get(f"/api/shared/{token}/events/").json()

    assert "misclassified" not in result and "files" not in result
    assert all("worker" not in row for row in result["leaderboard"])
    assert [event["payload"] for event in events] == [{"type": "trial_started"}, {"type": "run_finished"}]


def test_only_the_hash_of_the_token_is_stored(finished_run, alice):
    link, token = share(finished_run, alice)

    assert link.token_hash != token and len(token) >= 43
    assert not ShareLink.objects.filter(token_hash__contains=token[6:]).exists()


def test_downloads_need_the_links_permission(finished_run, alice):
    _, view_only = share(finished_run, alice)
    _, with_downloads = share(finished_run, alice, allow_download=True)
    anonymous = Client()

    assert anonymous.get(f"/api/shared/{view_only}/artifacts/bundle/").status_code == 404
    assert "keeps the model files to itself" in anonymous.get(f"/share/{view_only}/").content.decode()
    assert anonymous.get(f"/api/shared/{with_downloads}/").json()["artifacts"] == ["bundle", "onnx"]
    download = anonymous.get(f"/api/shared/{with_downloads}/artifacts/bundle/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"bundle bytes"


def test_a_link_never_hands_out_the_full_result_file(finished_run, alice):
    _, token = share(finished_run, alice, allow_download=True)

    assert Client().get(f"/api/shared/{token}/artifacts/result/").status_code == 404


def test_a_revoked_link_stops_working_at_once(finished_run, alice):
    link, token = share(finished_run, alice, allow_download=True)
    anonymous = Client()
    assert anonymous.get(f"/share/{token}/").status_code == 200

    share_link_revoke(link=link, user=alice)

    for url in ("/share/{}/", "/api/shared/{}/", "/api/shared/{}/result/", "/api/shared/{}/events/",
                "/api/shared/{}/artifacts/bundle/"):
        assert anonymous.get(url.format(token)).status_code == 404, url


def test_a_made_up_token_is_a_404(finished_run, alice):
    share(finished_run, alice)

    assert Client().get("/share/not-a-token/").status_code == 404
    assert Client().get("/api/shared/not-a-token/result/").status_code == 404


def test_members_create_list_and_revoke_links_through_the_api(client, finished_run, alice, bob):
    client.force_login(bob)

    created = client.post(f"/api/runs/{finished_run.pk}/shares/", {"allow_download": True},
                          content_type="application/json")
    assert created.status_code == 201
    url = created.json()["url"]
    assert url.startswith("http://testserver/share/") and Client().get(url).status_code == 200

    listed = client.get(f"/api/runs/{finished_run.pk}/shares/").json()
    assert [(link["id"], link["created_by"], link["allow_download"]) for link in listed] == [
        (created.json()["id"], "bob", True)]
    assert "url" not in listed[0] and url.rsplit("/", 2)[-2] not in str(listed)

    assert client.delete(f"/api/runs/{finished_run.pk}/shares/{listed[0]['id']}/").status_code == 204
    assert Client().get(url).status_code == 404


def test_a_viewer_cannot_share_or_revoke(client, finished_run, alice, charlie):
    membership_add(team=finished_run.team, user=charlie, role=Membership.Role.VIEWER)
    link, _ = share(finished_run, alice)
    client.force_login(charlie)

    assert client.post(f"/api/runs/{finished_run.pk}/shares/").status_code == 403
    assert client.delete(f"/api/runs/{finished_run.pk}/shares/{link.pk}/").status_code == 403
    assert ShareLink.objects.count() == 1
    assert "Create a share link" not in client.get(f"/runs/{finished_run.pk}/").content.decode()


def test_a_run_without_a_result_cannot_be_shared(client, finished_run, alice):
    finished_run.result = None
    finished_run.status = "running"
    finished_run.save()
    client.force_login(alice)

    refused = client.post(f"/api/runs/{finished_run.pk}/shares/")

    assert refused.status_code == 400 and "result" in refused.json()["detail"]


def test_the_run_page_shows_a_new_link_once_then_only_its_hint(client, finished_run, alice):
    client.force_login(alice)

    created = client.post(f"/runs/{finished_run.pk}/shares/", {"allow_download": "on"}, follow=True)
    link = ShareLink.objects.get()
    page = created.content.decode()
    assert link.allow_download and "/share/" in page and "Copy it now" in page
    again = client.get(f"/runs/{finished_run.pk}/").content.decode()
    assert "Copy it now" not in again and f"{link.token_hint}…" in again and "view and download" in again

    revoked = client.post(f"/runs/{finished_run.pk}/shares/{link.pk}/revoke/", follow=True)
    assert revoked.status_code == 200 and not ShareLink.objects.exists()
    assert "no longer works" in revoked.content.decode()


def test_sharing_shows_in_the_teams_activity(finished_run, alice):
    link, _ = share(finished_run, alice)
    share_link_revoke(link=link, user=alice)

    assert [a.text for a in Activity.objects.all()] == ["alice revoked a share link of the run “Parts sorter”",
                                                        "alice shared a read-only link to the run “Parts sorter”"]
