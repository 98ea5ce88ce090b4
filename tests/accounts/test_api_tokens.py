"""Named API tokens: shown once, stored hashed, revoked at once, never logged."""

import hashlib
import logging

import pytest
from django.urls import reverse

from apps.accounts.models import ApiToken
from apps.accounts.services import token_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_page_shows_a_new_key_once_and_stores_only_its_hash(client, alice):
    client.force_login(alice)

    created = client.post(reverse("token-list"), {"name": "CI on the build server"})

    key = created.context["new_key"]
    token = ApiToken.objects.get(user=alice)
    assert key.startswith("nw_") and key in created.content.decode()
    assert created["Cache-Control"] == "no-store"
    assert token.name == "CI on the build server" and token.prefix == key[:8]
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert not ApiToken.objects.filter(key_hash=key).exists()
    listed = client.get(reverse("token-list")).content.decode()
    assert "CI on the build server" in listed and f"{key[:8]}…" in listed and key not in listed


def test_the_api_creates_lists_and_revokes_tokens_without_showing_keys_again(api_client, alice):
    api_client.force_login(alice)

    created = api_client.post("/api/tokens/", {"name": "notebook"}, format="json").json()
    listed = api_client.get("/api/tokens/")

    assert set(created) == {"id", "name", "prefix", "created", "last_used", "key"}
    assert [t["name"] for t in listed.json()] == ["notebook"] and "key" not in listed.json()[0]
    assert created["key"] not in listed.content.decode()


def test_a_token_authenticates_and_a_revoked_one_fails_at_once(api_client, alice):
    token, key = token_create(user=alice, name="script")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/me/").json()["username"] == "alice"

    assert api_client.delete(f"/api/tokens/{token.pk}/").status_code == 204

    refused = api_client.get("/api/me/")
    assert refused.status_code == 401 and refused.json()["detail"] == "Invalid or revoked token."
    assert refused["WWW-Authenticate"] == "Token"


def test_revoking_on_the_page_stops_the_token(client, api_client, alice):
    token, key = token_create(user=alice, name="old laptop")
    client.force_login(alice)

    response = client.post(reverse("token-revoke", args=[token.pk]), follow=True)

    assert "Revoked “old laptop”" in response.content.decode()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/me/").status_code == 401
    assert "old laptop" not in client.get(reverse("token-list")).content.decode()


def test_one_token_revoked_leaves_the_others_working(api_client, alice):
    first, first_key = token_create(user=alice, name="one")
    _, second_key = token_create(user=alice, name="two")

    ApiToken.objects.filter(pk=first.pk).update(revoked="2026-01-01T00:00Z")

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {second_key}")
    assert api_client.get("/api/me/").status_code == 200


def test_it_records_when_a_token_was_last_used(api_client, alice):
    token, key = token_create(user=alice, name="cron")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    api_client.get("/api/me/")

    token.refresh_from_db()
    assert token.last_used is not None


def test_nobody_revokes_or_sees_another_users_token(client, api_client, alice, charlie):
    token, key = token_create(user=alice, name="alice's script")
    api_client.force_login(charlie)
    client.force_login(charlie)

    assert api_client.delete(f"/api/tokens/{token.pk}/").status_code == 404
    assert client.post(reverse("token-revoke", args=[token.pk])).status_code == 404
    assert api_client.get("/api/tokens/").json() == []
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/me/").json()["username"] == "alice"


def test_the_stable_password_route_makes_a_new_named_token(api_client, alice):
    first = api_client.post(reverse("api-token"), {"username": "alice", "password": PASSWORD}).json()["token"]
    second = api_client.post(reverse("api-token"), {"username": "alice", "password": PASSWORD,
                                                     "name": "deploy script"}).json()["token"]

    assert first != second
    assert list(ApiToken.objects.filter(user=alice).order_by("pk").values_list("name", flat=True)) == [
        "Created by /api/auth/token/", "deploy script"]


def test_repeated_wrong_passwords_close_the_token_route_like_the_login_page(api_client, alice, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    from apps.accounts.throttle import MAX_FAILED_LOGINS

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "1000/minute"})  # only the lock-out counts
    for _ in range(MAX_FAILED_LOGINS):
        api_client.post(reverse("api-token"), {"username": "alice", "password": "guess"})

    response = api_client.post(reverse("api-token"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 400 and "Too many failed attempts" in response.json()["non_field_errors"][0]


def test_keys_never_reach_the_logs(client, api_client, alice, caplog):
    caplog.set_level(logging.DEBUG)
    client.force_login(alice)

    key = client.post(reverse("token-list"), {"name": "logged?"}).context["new_key"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    api_client.get("/api/me/")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}x")
    api_client.get("/api/me/")
    password_key = api_client.post(reverse("api-token"), {"username": "alice", "password": PASSWORD}).json()["token"]

    assert key not in caplog.text and password_key not in caplog.text
