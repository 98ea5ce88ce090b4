import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from apps.accounts.models import Membership
from apps.accounts.services import membership_add
from apps.activity.models import Activity
from apps.runs.models import Note
from apps.runs.services import note_create
from nasweb.asgi import application

pytestmark = pytest.mark.django_db


def test_teammates_read_each_others_notes_newest_last(client, finished_run, alice, bob):
    note_create(run=finished_run, user=alice, body="Try **bigger** images next.")
    note_create(run=finished_run, user=bob, body="Agreed, and more epochs.")
    client.force_login(bob)

    notes = client.get(f"/api/runs/{finished_run.pk}/notes/").json()
    page = client.get(f"/runs/{finished_run.pk}/").content.decode()

    assert [(n["author"], n["body"]) for n in notes] == [("alice", "Try **bigger** images next."),
                                                         ("bob", "Agreed, and more epochs.")]
    assert notes[0]["html"] == "<p>Try <strong>bigger</strong> images next.</p>\n"
    assert page.index("<strong>bigger</strong>") < page.index("Agreed, and more epochs.")
    assert "<strong>alice</strong>" in page and "now</time>" in page


def test_members_add_notes_through_the_page_and_the_api(client, finished_run, bob):
    client.force_login(bob)

    added = client.post(f"/api/runs/{finished_run.pk}/notes/", {"body": "From a script"},
                        content_type="application/json")
    posted = client.post(f"/runs/{finished_run.pk}/notes/", {"body": "From the page"})

    assert added.status_code == 201 and added.json()["author"] == "bob"
    assert posted.status_code == 302 and posted["Location"] == f"/runs/{finished_run.pk}/#notes"
    assert list(Note.objects.values_list("body", flat=True)) == ["From a script", "From the page"]


def test_an_empty_note_is_refused(client, finished_run, alice):
    client.force_login(alice)

    assert client.post(f"/api/runs/{finished_run.pk}/notes/", {"body": "   "},
                       content_type="application/json").status_code == 400
    assert "needs some text" in client.post(f"/runs/{finished_run.pk}/notes/", {"body": " "}, follow=True
                                            ).content.decode()
    assert not Note.objects.exists()


def test_only_its_author_deletes_a_note(client, finished_run, alice, bob):
    note = note_create(run=finished_run, user=bob, body="mine")
    client.force_login(alice)
    assert "Delete</button>" not in client.get(f"/runs/{finished_run.pk}/notes/").content.decode()
    assert client.delete(f"/api/runs/{finished_run.pk}/notes/{note.pk}/").status_code == 403
    assert client.post(f"/runs/{finished_run.pk}/notes/{note.pk}/delete/").status_code == 403

    client.force_login(bob)
    assert client.delete(f"/api/runs/{finished_run.pk}/notes/{note.pk}/").status_code == 204
    assert not Note.objects.exists()


def test_a_viewer_reads_notes_but_cannot_write_them(client, finished_run, alice, charlie):
    membership_add(team=finished_run.team, user=charlie, role=Membership.Role.VIEWER)
    note_create(run=finished_run, user=alice, body="for everyone in the team")
    client.force_login(charlie)

    assert client.get(f"/api/runs/{finished_run.pk}/notes/").json()[0]["body"] == "for everyone in the team"
    assert client.post(f"/api/runs/{finished_run.pk}/notes/", {"body": "x"}).status_code == 403
    assert 'name="body"' not in client.get(f"/runs/{finished_run.pk}/").content.decode()


def test_outsiders_see_no_notes(client, finished_run, alice, charlie):
    note = note_create(run=finished_run, user=alice, body="team only")
    client.force_login(charlie)

    assert client.get(f"/api/runs/{finished_run.pk}/notes/").status_code == 404
    assert client.get(f"/runs/{finished_run.pk}/notes/").status_code == 404
    assert client.delete(f"/api/runs/{finished_run.pk}/notes/{note.pk}/").status_code == 404


def test_a_note_shows_in_the_activity_feed(finished_run, alice):
    note_create(run=finished_run, user=alice, body="hello")

    assert Activity.objects.get().text == "alice added a note to the run “Parts sorter”"


@pytest.mark.django_db(transaction=True)
async def test_teammates_with_the_run_open_hear_of_a_new_note(finished_run, alice, bob, charlie):
    pages = {}
    for user in (bob, charlie):
        pages[user] = WebsocketCommunicator(application, "/ws/events/", headers=[(b"origin", b"http://127.0.0.1"),
                                                                                  (b"host", b"127.0.0.1")])
        pages[user].scope["user"] = user
        assert (await pages[user].connect())[0]

    await sync_to_async(note_create)(run=finished_run, user=alice, body="<b>new</b>")

    assert await pages[bob].receive_json_from(timeout=5) == {"type": "run.notes", "run": finished_run.pk}
    assert await pages[charlie].receive_nothing(timeout=0.5)
    for page in pages.values():
        await page.disconnect()
