"""Walks every URL pattern with a user of another team: no route may reveal or change another team's objects.

New routes are covered without editing this file: ids in a route are filled in from the object kinds below,
and a route whose id kind is unknown fails the test until it is added here.

Share-link routes take a secret token instead of an id: holding it is the whole permission, so the outsider holds
the token of a link alice revoked, and must be refused exactly like with a foreign id. (tests/runs/test_sharing.py
checks that a working token opens these routes, so the 404s here are not those of a broken route.) Invite links
are alike: the outsider holds the key of one alice revoked (tests/accounts/test_invite_links.py joins with a working
one).
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from apps.accounts.models import Team
from apps.accounts.services import invite_create, invite_revoke, token_create
from apps.activity.models import Activity
from apps.datasets.models import Dataset, DatasetImage
from apps.runs.models import Note, Run, RunEvent
from apps.runs.services import share_link_create, share_link_revoke
from tests.fake_results import fake_best, fake_result

pytestmark = pytest.mark.django_db

SECRET = "Alice-secret-7f3a"
METHODS = ("get", "post", "put", "patch", "delete")
SKIP_PREFIXES = ("admin/",)  # staff only, guarded by Django's admin


def all_routes(patterns=None, prefix=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from all_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


@pytest.fixture
def alices_objects(alice, lab):
    team = lab  # a shared team: invite links are made for it
    Team.objects.filter(pk=team.pk).update(name=SECRET)
    team.refresh_from_db()
    invite = invite_create(team=team, by=alice)
    revoked_invite = invite_revoke(invite=invite_create(team=team, by=alice), by=alice)
    token, _ = token_create(user=alice, name=SECRET)
    dataset = Dataset.objects.create(team=team, created_by=alice, name=SECRET, status="ready",
                                     classes=[{"name": SECRET, "count": 1}])
    image = DatasetImage.objects.create(dataset=dataset, path=f"{SECRET}.png", label=SECRET, width=8, height=8,
                                        channels=1, thumbnail="missing.png")
    run = Run.objects.create(team=team, created_by=alice, dataset=dataset, name=SECRET, budget_seconds=60,
                             original_budget_seconds=60, status="finished", artifacts={"bundle": "x"},
                             result=fake_result().to_dict(), best=fake_best(genotype_summary=SECRET))
    RunEvent.objects.create(run=run, seq=1, type="run_started", payload={"note": SECRET})
    note = Note.objects.create(run=run, author=alice, body=SECRET)
    link, _ = share_link_create(run=run, user=alice, allow_download=True)
    revoked, revoked_token = share_link_create(run=run, user=alice, allow_download=True)
    share_link_revoke(link=revoked, user=alice)
    Activity.objects.create(team=team, actor=alice, verb=Activity.Verb.RUN_LAUNCHED, target_kind="run",
                            target_id=run.pk, target_label=SECRET)
    return {"dataset_id": dataset.pk, "image_id": image.pk, "run_id": run.pk, "kind": "bundle", "note_id": note.pk,
            "link_id": link.pk, "token": revoked_token, "team_id": team.pk, "user_id": alice.pk,
            "invite_id": invite.pk, "invite_key": revoked_invite.key, "token_id": token.pk}


def fill(route: str, ids: dict) -> str:
    path = route.replace("^", "").replace("$", "")
    for converter in ("int:", "str:", "slug:", ""):
        for name, value in ids.items():
            path = path.replace(f"<{converter}{name}>", str(value))
    assert "<" not in path, f"{route}: add this id kind to the test's objects"
    return "/" + path


def test_no_route_leaks_another_teams_objects(client, charlie, alices_objects):
    client.force_login(charlie)
    checked = 0
    for route, _ in all_routes():
        if route.startswith(SKIP_PREFIXES) or "<" not in route and "(?P" not in route:
            continue
        url = fill(route, alices_objects)
        for method in METHODS:
            response = getattr(client, method)(url)
            assert response.status_code in (404, 405), f"{method.upper()} {url} answered {response.status_code}"
            assert SECRET not in response.content.decode(errors="replace"), f"{method.upper()} {url} leaked"
            checked += 1
    assert checked > 40


def test_no_list_shows_another_teams_objects(client, charlie, alices_objects):
    client.force_login(charlie)
    for route, _ in all_routes():
        if route.startswith(SKIP_PREFIXES) or "<" in route or "(?P" in route or route.endswith("logout/"):
            continue
        response = client.get("/" + route)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert SECRET.encode() not in body, f"GET /{route} leaked"
