"""Hostile request bodies end in a clear 4xx in the API's JSON shape: too large, chunked, empty, nested too deeply.

The body limit is ASGI middleware, so these tests call the ASGI application itself, as the server does; the server's
memory under a large body is measured in tests/e2e/test_large_bodies.py.
"""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async

from apps.accounts.services import token_create
from apps.datasets.models import Dataset
from apps.datasets.services import dataset_upload_start
from nasweb.asgi import application
from nasweb.body_limit import RequestBodyLimit, request_body_limit

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


def scope_of(method: str, path: str, **headers: str) -> dict:
    return {"method": method, "path": path, "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}


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


def test_only_a_dataset_upload_with_credentials_may_carry_the_upload_limit(settings):
    settings.NASWEB_MAX_REQUEST_BYTES, settings.NASWEB_MAX_UPLOAD_BYTES = 1000, 10**9
    token = {"authorization": "Token nas_x"}
    session = {"cookie": "csrftoken=a; sessionid=b"}

    assert request_body_limit(scope_of("PUT", "/api/datasets/7/upload/", **token)) == 10**9
    assert request_body_limit(scope_of("PUT", "/api/datasets/7/upload/", **session)) == 10**9
    assert request_body_limit(scope_of("POST", "/api/datasets/", **session)) == 10**9
    assert request_body_limit(scope_of("PUT", "/api/datasets/7/upload/", cookie="csrftoken=a")) == 1000
    assert request_body_limit(scope_of("POST", "/nonexistent/", **token)) == 1000
    assert request_body_limit(scope_of("POST", "/api/runs/7/predict/", **session)) == 1000


@pytest.fixture
def upload_of(alice):
    """A started resumable upload of `size` bytes by alice, and the headers of her API token."""

    def start(size: int) -> tuple[Dataset, dict[str, str]]:
        dataset = dataset_upload_start(team=alice.teams.get(is_personal=True), user=alice, name="Chunked",
                                       size=size)
        _, key = token_create(user=alice, name="test")
        return dataset, {"Authorization": f"Token {key}", "Content-Type": "application/octet-stream",
                         "Content-Range": f"bytes 0-{size - 1}/{size}"}

    return start


async def database(function, *args):
    return await sync_to_async(function)(*args)


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
