"""A websocket opens only from this site's own pages (scheme, host and port) or an origin the settings trust."""

import pytest
from channels.testing import WebsocketCommunicator

from nasweb.asgi import application

SITE = b"127.0.0.1:8000"


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings):
    """These tests are about the gate; the sockets it lets through need no Redis behind them. With Redis, a socket
    closed while its layer sat in Redis's blocking pop stayed 'cancelling', and its test's event loop never closed
    (CI waited out pytest-timeout's 600 s)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


async def connects(user, *, origin: bytes | None, host: bytes = SITE, scheme: str = "ws",
                   extra: list[tuple[bytes, bytes]] = ()) -> bool:
    headers = [(b"host", host), *([(b"origin", origin)] if origin is not None else []), *extra]
    communicator = WebsocketCommunicator(application, "/ws/events/", headers=headers)
    communicator.scope.update(user=user, scheme=scheme)
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
async def test_a_page_of_this_site_opens_a_socket(alice):
    assert await connects(alice, origin=b"http://127.0.0.1:8000")


@pytest.mark.django_db(transaction=True)
async def test_a_page_on_another_port_of_the_same_host_is_refused(alice):
    assert not await connects(alice, origin=b"http://127.0.0.1:9999")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", [b"https://127.0.0.1:8000", b"http://localhost:8000", b"http://127.0.0.1",
                                    b"null", b"http://127.0.0.1:99999", b"\xff"])
async def test_other_schemes_hosts_and_garbage_are_refused(alice, origin):
    assert not await connects(alice, origin=origin)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_without_origin_is_refused(alice):
    assert not await connects(alice, origin=None)


@pytest.mark.django_db(transaction=True)
async def test_a_host_the_site_does_not_serve_is_refused_even_from_its_own_origin(alice):
    assert not await connects(alice, origin=b"http://evil.example:8000", host=b"evil.example:8000")


@pytest.mark.django_db(transaction=True)
async def test_default_ports_are_the_same_origin(alice):
    assert await connects(alice, origin=b"http://localhost:80", host=b"localhost")


@pytest.mark.django_db(transaction=True)
async def test_behind_a_tls_proxy_the_https_page_opens_a_socket(alice, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forwarded = [(b"x-forwarded-proto", b"https")]

    assert await connects(alice, origin=b"https://localhost", host=b"localhost", extra=forwarded)
    assert not await connects(alice, origin=b"http://localhost", host=b"localhost", extra=forwarded)
    assert await connects(alice, origin=b"https://localhost", host=b"localhost", scheme="wss")


@pytest.mark.django_db(transaction=True)
async def test_an_origin_the_settings_trust_opens_a_socket(alice, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com:8443", "https://*.example.org"]

    assert await connects(alice, origin=b"https://app.example.com:8443")
    assert await connects(alice, origin=b"https://team.example.org")
    assert not await connects(alice, origin=b"https://app.example.com")
    assert not await connects(alice, origin=b"http://team.example.org")
