"""Hostile request bodies end in a clear 4xx in the API's JSON shape: too large, chunked, empty, nested too deeply.

The body limit is ASGI middleware, so these tests call the ASGI application itself, as the server does; the server's
memory under a large body is measured in tests/e2e/test_large_bodies.py.
"""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.test import Client

from apps.accounts.models import Membership
from apps.accounts.services import membership_add, token_create
from apps.datasets.models import Dataset
from apps.datasets.services import dataset_upload_start
from nasweb.asgi import application
from nasweb.body_limit import RequestBodyLimit

DEEP_JSON = "[" * 50_000 + "]" * 50_000


async def call(app, *, method: str, path: str, headers: dict[str, str], pieces: list[bytes]) -> tuple[int, dict, int]:
    """The status and JSON body the app answers, and how many body pieces it read."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
             "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()]}
    read, answer = 0, {}

    async def receive():
        nonlocal read
        if read < len(pieces):
            read += 1
            return {"type": "http.request", "body": pieces[read - 1], "more_body": read < len(pieces)}
        await asyncio.Event().wait()  # the client stays connected: Django drops a response once it goes

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] = answer.get("body", b"") + message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], json.loads(answer["body"] or b"{}"), read


def call_in_a_thread(app, **request) -> tuple[int, dict, int]:
    """`call` on an event loop of its own: a browser test's Playwright may hold this thread's."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, call(app, **request)).result()


async def must_not_run(scope, receive, send):
    raise AssertionError("the application must not see a refused request")


async def read_everything(scope, receive, send):
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_a_body_announced_over_the_limit_is_refused_before_a_byte_is_read(settings):
    settings.NASWEB_MAX_REQUEST_BYTES = 1000

    status, body, read = call_in_a_thread(
        RequestBodyLimit(must_not_run), method="POST", path="/nonexistent/",
        headers={"Content-Length": "300000000", "Content-Type": "multipart/form-data"}, pieces=[b"x" * 1000] * 3)

    assert (status, read) == (413, 0)
    assert "larger than" in body["detail"]


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(settings):
    settings.NASWEB_MAX_REQUEST_BYTES = 1000

    status, body, read = call_in_a_thread(RequestBodyLimit(read_everything), method="POST", path="/nonexistent/",
                                          headers={"Transfer-Encoding": "chunked"}, pieces=[b"x" * 600] * 10)

    assert (status, read) == (413, 2)
    assert "larger than" in body["detail"]


def test_a_body_within_the_limit_reaches_the_application(settings):
    settings.NASWEB_MAX_REQUEST_BYTES = 1000

    status, _, read = call_in_a_thread(RequestBodyLimit(read_everything), method="POST", path="/api/runs/",
                                       headers={"Transfer-Encoding": "chunked"}, pieces=[b"x" * 500] * 2)

    assert (status, read) == (200, 2)


@pytest.fixture
def upload_of(alice, lab):
    """A started resumable upload of `size` bytes by alice, and the headers of her API token."""

    def start(size: int) -> tuple[Dataset, dict[str, str]]:
        dataset = dataset_upload_start(team=lab, user=alice, name="Chunked", size=size)
        _, key = token_create(user=alice, name="test")
        return dataset, {"Authorization": f"Token {key}", "Content-Type": "application/octet-stream",
                         "Content-Range": f"bytes 0-{size - 1}/{size}"}

    return start


async def database(function, *args):
    return await sync_to_async(function)(*args)


UPLOAD_ROUTES = pytest.mark.parametrize("method, path", [("PUT", "/api/datasets/{id}/upload/"),
                                                          ("POST", "/api/datasets/")], ids=["chunk", "multipart"])
HUNDRED_MB = str(100 * 10**6)


def credentials_of(user, kind: str) -> dict[str, str]:
    """Headers carrying the user's real session or API token."""
    if kind == "token":
        return {"Authorization": f"Token {token_create(user=user, name='test')[1]}"}
    client = Client()
    client.force_login(user)
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"}


@pytest.mark.django_db(transaction=True)
@UPLOAD_ROUTES
@pytest.mark.parametrize("credentials", [{"Cookie": "csrftoken=a; sessionid=forged"}, {"Authorization": "Token x"}],
                         ids=["forged-session", "bad-token"])
async def test_forged_credentials_cannot_send_an_upload_sized_body(upload_of, method, path, credentials):
    dataset, _ = await database(upload_of, 200 * 10**6)

    status, body, read = await call(RequestBodyLimit(must_not_run), method=method, path=path.format(id=dataset.pk),
                                    headers={**credentials, "Content-Length": HUNDRED_MB}, pieces=[b"x"])

    assert (status, read) == (413, 0)
    assert filesizeformat(settings.NASWEB_MAX_REQUEST_BYTES) in body["detail"]


@pytest.mark.django_db(transaction=True)
@UPLOAD_ROUTES
@pytest.mark.parametrize("kind", ["session", "token"])
async def test_real_credentials_may_send_an_upload_sized_body(upload_of, alice, method, path, kind):
    dataset, _ = await database(upload_of, 200 * 10**6)
    credentials = await database(credentials_of, alice, kind)

    status, _, read = await call(RequestBodyLimit(read_everything), method=method, path=path.format(id=dataset.pk),
                                 headers={**credentials, "Content-Length": HUNDRED_MB}, pieces=[b"x"])

    assert (status, read) == (200, 1)


@pytest.mark.django_db(transaction=True)
async def test_a_chunk_larger_than_what_its_upload_lacks_is_refused_unread(upload_of):
    dataset, headers = await database(upload_of, 50 * 10**6)

    status, body, read = await call(RequestBodyLimit(must_not_run), method="PUT",
                                    path=f"/api/datasets/{dataset.pk}/upload/",
                                    headers={**headers, "Content-Length": HUNDRED_MB}, pieces=[b"x"])

    assert (status, read) == (413, 0)
    assert filesizeformat(50 * 10**6) in body["detail"]  # what the upload lacks


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", [None, Membership.Role.VIEWER], ids=["outsider", "viewer"])
async def test_a_chunk_to_an_upload_the_user_may_not_write_is_refused_unread(upload_of, charlie, role):
    dataset, _ = await database(upload_of, 200 * 10**6)
    if role:
        await database(lambda: membership_add(team=dataset.team, user=charlie, role=role))
    credentials = await database(credentials_of, charlie, "token")

    status, _, read = await call(RequestBodyLimit(must_not_run), method="PUT",
                                 path=f"/api/datasets/{dataset.pk}/upload/",
                                 headers={**credentials, "Content-Length": HUNDRED_MB}, pieces=[b"x"])

    assert (status, read) == (413, 0)


@pytest.mark.django_db(transaction=True)
async def test_a_real_session_carries_no_upload_sized_body_to_another_url(alice):
    credentials = await database(credentials_of, alice, "session")

    status, _, read = await call(RequestBodyLimit(must_not_run), method="POST", path="/api/runs/",
                                 headers={**credentials, "Content-Length": HUNDRED_MB}, pieces=[b"x"])

    assert (status, read) == (413, 0)


@pytest.mark.django_db(transaction=True)
async def test_an_upload_chunk_may_come_chunked(upload_of):
    dataset, headers = await database(upload_of, 3000)

    status, body, _ = await call(application, method="PUT", path=f"/api/datasets/{dataset.pk}/upload/",
                                 headers={**headers, "Transfer-Encoding": "chunked"}, pieces=[b"x" * 1000] * 2)

    assert (status, body["received"]) == (200, 2000)


@pytest.mark.django_db(transaction=True)
async def test_an_upload_takes_a_browser_sized_chunk_of_eight_mebibytes(upload_of, settings):
    settings.NASWEB_MAX_REQUEST_BYTES = 2**20
    size = 8 * 2**20
    dataset, headers = await database(upload_of, 2 * size)

    status, body, _ = await call(application, method="PUT", path=f"/api/datasets/{dataset.pk}/upload/",
                                 headers={**headers, "Content-Length": str(size)}, pieces=[b"x" * 2**20] * 8)

    assert (status, body["received"]) == (200, size)


@pytest.mark.django_db(transaction=True)
async def test_an_empty_upload_chunk_is_refused_with_the_offset_to_send(upload_of):
    dataset, headers = await database(upload_of, 3000)

    status, body, _ = await call(application, method="PUT", path=f"/api/datasets/{dataset.pk}/upload/",
                                 headers={**headers, "Content-Length": "0"}, pieces=[b""])

    assert status == 400 and body == {"detail": "This chunk is empty: send the bytes from 0 on."}


@pytest.mark.django_db
def test_deeply_nested_json_to_the_runs_api_is_a_clear_400(api_client, alice):
    api_client.force_login(alice)

    response = api_client.post("/api/runs/", DEEP_JSON, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - the body is nested too deeply."}


@pytest.mark.django_db
def test_deeply_nested_json_to_the_token_api_is_a_clear_400_without_login(api_client):
    response = api_client.post("/api/auth/token/", DEEP_JSON, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - the body is nested too deeply."}
