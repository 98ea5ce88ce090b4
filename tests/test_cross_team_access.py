"""Walks every URL pattern with a user of another team: no route may reveal or change another team's objects.

New routes are covered without editing this file: ids in a route are filled in from the object kinds below,
and a route whose id kind is unknown fails the test until it is added here.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from apps.datasets.models import Dataset, DatasetImage
from apps.runs.models import Run, RunEvent

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
def alices_objects(alice):
    team = alice.teams.get()
    dataset = Dataset.objects.create(team=team, created_by=alice, name=SECRET, status="ready",
                                     classes=[{"name": SECRET, "count": 1}])
    image = DatasetImage.objects.create(dataset=dataset, path=f"{SECRET}.png", label=SECRET, width=8, height=8,
                                        channels=1, thumbnail="missing.png")
    run = Run.objects.create(team=team, created_by=alice, dataset=dataset, name=SECRET, budget_seconds=60,
                             original_budget_seconds=60, status="finished", artifacts={"bundle": "x"},
                             result={"best": {}, "misclassified": []}, best={"genotype_summary": SECRET})
    RunEvent.objects.create(run=run, seq=1, type="run_started", payload={"note": SECRET})
    return {"dataset_id": dataset.pk, "image_id": image.pk, "run_id": run.pk, "kind": "bundle"}


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
