"""A run name or a note written as HTML is shown as text everywhere: pages, API responses, websocket frames."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.activity.models import Activity
from apps.activity.services import activity_record
from apps.datasets.models import Dataset
from apps.runs.models import Run
from apps.runs.services import note_create, run_cancel, share_link_create
from nasweb.asgi import application
from tests.fake_results import fake_best, fake_result

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(2)>"
ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;")


@pytest.fixture
def hostile_run(alice, lab):
    dataset = Dataset.objects.create(team=lab, created_by=alice, name=IMAGE, status="ready")
    run = Run.objects.create(team=lab, created_by=alice, dataset=dataset, name=f"Digits {SCRIPT}",
                             budget_seconds=60, original_budget_seconds=60, status="finished",
                             result=fake_result().to_dict(), best=fake_best(genotype_summary=IMAGE))
    note_create(run=run, user=alice, body=f"{SCRIPT} and {IMAGE}")
    activity_record(team=lab, actor=alice, verb=Activity.Verb.RUN_LAUNCHED, target=run)
    return run


def assert_shown_as_text(html: str, *escaped: str) -> None:
    assert SCRIPT not in html and IMAGE not in html and "onerror=alert" not in html.replace("onerror=alert(2)&gt;", "")
    for text in escaped:
        assert text in html


def test_pages_show_hostile_names_and_notes_as_text(client, alice, hostile_run):
    _, token = share_link_create(run=hostile_run, user=alice)
    client.force_login(alice)
    client.post("/accounts/teams/switch/", {"team": hostile_run.team_id})  # the lists show the current team's
    run = hostile_run.pk

    assert_shown_as_text(client.get(f"/runs/{run}/").content.decode(), *ESCAPED)
    assert_shown_as_text(client.get(f"/runs/{run}/notes/").content.decode(), *ESCAPED)
    assert_shown_as_text(client.get("/runs/").content.decode(), ESCAPED[0])
    assert_shown_as_text(client.get(f"/runs/compare/?run={run}&run={run}").content.decode(), *ESCAPED)
    assert_shown_as_text(client.get("/activity/").content.decode(), ESCAPED[0])
    assert_shown_as_text(Client().get(f"/share/{token}/").content.decode(), ESCAPED[0])


def test_api_responses_are_json_with_the_text_as_written(client, bob, hostile_run):
    client.force_login(bob)

    for url in (f"/api/runs/{hostile_run.pk}/", f"/api/runs/{hostile_run.pk}/notes/",
                f"/api/activity/?team={hostile_run.team_id}"):
        response = client.get(url)
        assert response["Content-Type"] == "application/json" and response["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/api/runs/{hostile_run.pk}/").json()["name"] == f"Digits {SCRIPT}"
    note = client.get(f"/api/runs/{hostile_run.pk}/notes/").json()[0]
    assert note["body"] == f"{SCRIPT} and {IMAGE}"
    assert SCRIPT not in note["html"] and ESCAPED[0] in note["html"]


@pytest.mark.django_db(transaction=True)
async def test_websocket_frames_carry_no_names_or_notes(alice, bob, hostile_run):
    await sync_to_async(Run.objects.filter(pk=hostile_run.pk).update)(status="queued")
    page = WebsocketCommunicator(application, "/ws/events/", headers=[(b"origin", b"http://127.0.0.1"),
                                                                       (b"host", b"127.0.0.1")])
    page.scope["user"] = bob
    assert (await page.connect())[0]

    await sync_to_async(run_cancel)(run=await sync_to_async(Run.objects.get)(pk=hostile_run.pk), user=alice)
    await sync_to_async(note_create)(run=hostile_run, user=alice, body=SCRIPT)

    frames = [await page.receive_from(timeout=5) for _ in range(2)]
    assert [json.loads(frame)["type"] for frame in frames] == ["run.status", "run.notes"]
    for frame in frames:
        assert "<" not in frame and "alert" not in frame
    await page.disconnect()
