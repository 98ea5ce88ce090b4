import asyncio
import json
import os
import urllib.request

import pytest
import websockets
from django.conf import settings
from django.db import connection

from apps.accounts.services import token_create

from .processes import free_port, running, server_env, wait_for_port

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def database_url_of_test_db() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def services_env(data_dir) -> dict[str, str]:
    """Children share this test's database, Redis and secret key, so they accept its sessions."""
    return server_env(
        DJANGO_SETTINGS_MODULE="nasweb.settings.test",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=database_url_of_test_db(),
        REDIS_URL=os.environ["REDIS_URL"],
        NASWEB_DATA_DIR=str(data_dir),
    )


def post(url: str, token: str) -> dict:
    request = urllib.request.Request(url, method="POST", headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())


async def ping_over_websocket(port: int, session_cookie: str, api_token: str) -> tuple[dict, dict]:
    headers = {"Cookie": f"sessionid={session_cookie}", "Origin": f"http://127.0.0.1:{port}"}
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/events/", additional_headers=headers) as socket:
        ping = await asyncio.to_thread(post, f"http://127.0.0.1:{port}/api/worker/ping/", api_token)
        return ping, json.loads(await asyncio.wait_for(socket.recv(), timeout=30))


def asgi_server(port: int) -> list[str]:
    """The ASGI server as the Docker image runs it."""
    return ["-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off", "--no-proxy-headers",
            "nasweb.asgi:application"]


def test_a_ping_travels_api_redis_worker_process_and_the_asgi_server_to_the_browser(alice, client, tmp_path):
    client.force_login(alice)
    session_cookie = client.cookies["sessionid"].value
    _, api_token = token_create(user=alice, name="e2e")
    env = services_env(tmp_path)
    port = free_port()
    worker = ["manage.py", "rundramatiq", "--processes", "1", "--threads", "1"]

    with running(asgi_server(port), env, tmp_path / "server.log") as server, \
            running(worker, env, tmp_path / "worker.log"):
        wait_for_port(port, server)
        ping, pong = asyncio.run(ping_over_websocket(port, session_cookie, api_token))

    assert pong["type"] == "worker.pong" and pong["token"] == ping["token"]
    assert pong["pid"] not in (os.getpid(), server.pid), "the answer must come from the worker process"


def test_a_socket_without_a_session_is_refused(db, tmp_path):
    env = services_env(tmp_path)
    port = free_port()

    async def connect_anonymously():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/events/") as socket:
            await socket.recv()

    with running(asgi_server(port), env, tmp_path / "server.log") as server:
        wait_for_port(port, server)
        with pytest.raises(websockets.exceptions.WebSocketException):
            asyncio.run(connect_anonymously())
