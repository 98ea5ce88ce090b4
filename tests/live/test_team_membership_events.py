"""Open pages follow membership changes: someone removed from a team stops receiving its events at once, someone
added starts without reloading."""

import pytest
from asgiref.sync import sync_to_async

from apps.accounts import services
from apps.live.services import team_event_publish

from .test_user_events import communicator_for

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_removed_member_stops_hearing_the_team_and_a_new_one_starts(alice, bob, charlie, lab):
    bobs_page, charlies_page = communicator_for(bob), communicator_for(charlie)
    assert (await bobs_page.connect())[0] and (await charlies_page.connect())[0]

    await sync_to_async(services.member_remove)(team=lab, by=alice, member=bob)
    await sync_to_async(services.member_invite)(team=lab, by=alice, username="charlie")
    await bobs_page.receive_nothing(timeout=0.2)  # lets the sockets handle the membership messages first
    await sync_to_async(team_event_publish)(team_id=lab.pk, payload={"type": "run.status", "run": 1})

    assert await charlies_page.receive_json_from(timeout=5) == {"type": "run.status", "run": 1}
    assert await bobs_page.receive_nothing(timeout=0.5)
    await bobs_page.disconnect()
    await charlies_page.disconnect()


async def test_a_teams_run_events_never_reach_a_socket_of_another_team(alice, bob, charlie, lab):
    bobs_page, charlies_page = communicator_for(bob), communicator_for(charlie)
    assert (await bobs_page.connect())[0] and (await charlies_page.connect())[0]

    await sync_to_async(team_event_publish)(team_id=lab.pk, payload={"type": "run.status", "run": 7})

    assert await bobs_page.receive_json_from(timeout=5) == {"type": "run.status", "run": 7}
    assert await charlies_page.receive_nothing(timeout=0.5)
    await bobs_page.disconnect()
    await charlies_page.disconnect()
