from django.urls import reverse

from tests.conftest import PASSWORD


def test_it_issues_a_token_that_authenticates_scripts(api_client, alice):
    response = api_client.post(reverse("api-token"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api_client.get(reverse("api-me")).json()

    assert me["username"] == "alice"
    assert [team["name"] for team in me["teams"]] == ["alice's team"]


def test_it_refuses_a_wrong_password_or_a_bad_token(api_client, alice):
    assert api_client.post(reverse("api-token"), {"username": "alice", "password": "nope"}).status_code == 400

    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api_client.get(reverse("api-me")).status_code == 401


def test_the_api_requires_authentication(api_client, db):
    assert api_client.get(reverse("api-me")).status_code == 401


def test_browser_sessions_need_a_csrf_token_to_write(alice):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    assert client.get(reverse("api-me")).status_code == 200
    assert client.post(reverse("api-worker-ping")).status_code == 403


def test_the_openapi_schema_describes_the_routes(client, db):
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/json").json()

    assert {"/api/auth/token/", "/api/me/", "/api/worker/ping/"} <= set(schema["paths"])


def test_the_openapi_schema_builds_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))

    assert "/api/runs/{run_id}/predict/" in (tmp_path / "schema.yml").read_text()
