import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from apps.live.consumers import CLOSE_UNAUTHENTICATED
from apps.live.services import user_event_publish
from nasweb.asgi import application

HEADERS = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


def communicator_for(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/events/", headers=HEADERS)
    communicator.scope["user"] = user
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_anonymous_sockets_are_refused():
    communicator = communicator_for(AnonymousUser())

    connected, code = await communicator.connect()

    assert not connected and code == CLOSE_UNAUTHENTICATED


@pytest.mark.django_db(transaction=True)
async def test_a_foreign_origin_is_refused(alice):
    communicator = WebsocketCommunicator(application, "/ws/events/", headers=[(b"origin", b"http://evil.example")])
    communicator.scope["user"] = alice

    connected, _ = await communicator.connect()

    assert not connected


@pytest.mark.django_db(transaction=True)
async def test_events_reach_only_their_user(alice, charlie):
    alices_page, charlies_page = communicator_for(alice), communicator_for(charlie)
    assert (await alices_page.connect())[0] and (await charlies_page.connect())[0]

    await sync_to_async(user_event_publish)(user_id=alice.id, payload={"type": "hello", "text": "<b>hi</b>"})

    assert await alices_page.receive_json_from(timeout=5) == {"type": "hello", "text": "<b>hi</b>"}
    assert await charlies_page.receive_nothing(timeout=0.5)
    await alices_page.disconnect()
    await charlies_page.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_worker_answers_the_ping_on_the_users_socket(alice, running_worker):
    from rest_framework.test import APIClient

    page = communicator_for(alice)
    assert (await page.connect())[0]
    client = APIClient()
    await sync_to_async(client.force_login)(alice)

    response = await sync_to_async(client.post)(reverse("api-worker-ping"), {"token": "page-made-token-1"})
    refused = await sync_to_async(client.post)(reverse("api-worker-ping"), {"token": "<script>"})

    assert response.status_code == 202 and response.json()["token"] == "page-made-token-1"
    assert refused.status_code == 400
    started = time.monotonic()
    pong = await page.receive_json_from(timeout=20)
    assert pong["type"] == "worker.pong" and pong["token"] == response.json()["token"]
    assert pong["device"] and time.monotonic() - started < 20
    await page.disconnect()
    await asyncio.sleep(0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.both_configurations
async def test_a_socket_idle_for_longer_than_a_blocking_receive_still_gets_events(alice):
    # Redis: the layer's blocking receive waits 5 s; a client socket timeout as short killed idle consumers.
    page = communicator_for(alice)
    assert (await page.connect())[0]

    assert await page.receive_nothing(timeout=8)
    await sync_to_async(user_event_publish)(user_id=alice.id, payload={"type": "hello"})

    assert await page.receive_json_from(timeout=5) == {"type": "hello"}
    await page.disconnect()
