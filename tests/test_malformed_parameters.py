"""Ids and values a client makes up (41 digits, 2**63, a superscript ², a NUL) end in a 400 or 404, never a 500."""

import pytest

pytestmark = pytest.mark.django_db

HUGE = "9" * 41
OVER_BIGINT = str(2**63)
SUPERSCRIPT = "%C2%B2"  # ², which str.isdigit() accepts and int() refuses

ID_PATHS = sorted({
    "/runs/{id}/", "/runs/{id}/notes/", "/runs/{id}/notes/{id}/delete/", "/runs/{id}/shares/",
    "/runs/{id}/shares/{id}/revoke/", "/datasets/{id}/", "/datasets/{id}/rename/", "/datasets/{id}/delete/",
    "/datasets/{id}/images/{id}/thumbnail/", "/accounts/teams/{id}/", "/accounts/teams/{id}/members/",
    "/accounts/teams/{id}/members/{id}/role/", "/accounts/teams/{id}/members/{id}/remove/",
    "/accounts/teams/{id}/leave/", "/accounts/teams/{id}/invites/", "/accounts/teams/{id}/invites/{id}/revoke/",
    "/accounts/tokens/{id}/revoke/", "/api/runs/{id}/", "/api/runs/{id}/result/", "/api/runs/{id}/events/",
    "/api/runs/{id}/trials/", "/api/runs/{id}/cancel/", "/api/runs/{id}/extend/", "/api/runs/{id}/artifacts/onnx/",
    "/api/runs/{id}/predict/", "/api/runs/{id}/notes/", "/api/runs/{id}/notes/{id}/", "/api/runs/{id}/shares/",
    "/api/runs/{id}/shares/{id}/", "/api/datasets/{id}/", "/api/datasets/{id}/upload/", "/api/datasets/{id}/images/",
    "/api/teams/{id}/", "/api/teams/{id}/members/", "/api/teams/{id}/members/{id}/", "/api/teams/{id}/invites/",
    "/api/teams/{id}/invites/{id}/", "/api/tokens/{id}/",
})

QUERIES = [
    "/runs/compare/?run={v}", "/runs/compare/?run=1&run={v}", "/runs/new/?dataset={v}", "/activity/?team={v}",
    "/activity/?page={v}", "/api/activity/?team={v}", "/api/runs/?team={v}", "/api/datasets/?team={v}",
    "/api/runs/1/events/?after={v}", "/api/runs/estimate/?dataset={v}&budget_seconds=300",
    "/api/runs/estimate/?dataset=1&budget_seconds={v}", "/api/datasets/?search={v}", "/api/datasets/?sort={v}",
    "/datasets/?q={v}", "/datasets/?sort={v}", "/accounts/tokens/?x={v}", "/api/datasets/1/images/?label={v}",
    "/accounts/teams/join/{v}/", "/share/{v}/", "/api/shared/{v}/", "/api/shared/{v}/artifacts/onnx/",
    "/api/runs/1/artifacts/{v}/",
]


@pytest.fixture(autouse=True)
def logged_in(client, api_client, alice):
    client.force_login(alice)
    api_client.force_login(alice)


@pytest.mark.parametrize("value", [HUGE])
@pytest.mark.parametrize("template", ID_PATHS)
def test_a_made_up_id_in_the_path_is_not_found(client, template, value):
    for method in ("get", "post", "delete"):
        response = getattr(client, method)(template.replace("{id}", value))
        assert response.status_code in (404, 405), (method, response.status_code)


@pytest.mark.parametrize("value", [HUGE, OVER_BIGINT, SUPERSCRIPT, "-1", "%00"])
@pytest.mark.parametrize("template", QUERIES)
def test_a_made_up_value_in_the_query_never_ends_in_a_server_error(client, template, value):
    response = client.get(template.format(v=value))

    assert response.status_code in (200, 400, 404), response.status_code


def test_a_nul_character_in_a_url_is_refused_in_words(client):
    page = client.get("/accounts/teams/join/%00/")
    api = client.get("/api/datasets/?search=%00")

    assert page.status_code == 400 and page.content.decode() == "A URL cannot contain a NUL character (%00)."
    assert api.status_code == 400 and api.json() == {"detail": "A URL cannot contain a NUL character (%00)."}


@pytest.mark.parametrize("value", [HUGE, OVER_BIGINT, "²", "-1"])
def test_a_made_up_id_in_a_form_is_refused_in_words(client, value):
    launched = client.post("/runs/new/", {"dataset": value, "budget": "quick", "target": "any", "strategy": "auto",
                                          "seed": 0, "block_types": ["plain"]})
    switched = client.post("/accounts/teams/switch/", {"team": value}, follow=True)

    assert launched.status_code == 200
    assert "You are not a member of that team any more." in switched.content.decode()
