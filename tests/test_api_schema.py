"""Schemathesis sends every API operation in the OpenAPI schema requests made from it: none may end in a 5xx.

Ids in paths point at alice's real objects, so the requests reach past the 404 of an unknown id; the run is kept
running (with a result) so that no example can delete it from under the others.
"""

import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from apps.accounts.services import token_create
from apps.datasets.models import Dataset
from apps.runs.models import Run
from apps.runs.services import note_create, share_link_create
from tests.fake_results import fake_result

pytestmark = pytest.mark.django_db

STATS = {"resolution": 8, "width": {"min": 8, "median": 8, "max": 8}, "height": {"min": 8, "median": 8, "max": 8}}


schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def connection_kept_across_requests():
    # As Django's test client does: a request must not close the connection holding the test's transaction.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def alices_objects(alice, bob, lab):
    dataset = Dataset.objects.create(team=lab, created_by=alice, name="Digits", status="ready", num_images=10,
                                     classes=[{"name": "a", "count": 10}], stats=STATS)
    run = Run.objects.create(team=lab, created_by=alice, dataset=dataset, name="Digits quick", status="running",
                             budget_seconds=60, original_budget_seconds=60,
                             result=fake_result().to_dict())
    run.artifacts = {"bundle": default_storage.save(f"{run.storage_prefix}/bundle.zip", ContentFile(b"zip"))}
    run.save(update_fields=["artifacts"])
    _, token = share_link_create(run=run, user=alice, allow_download=True)
    return {"team_id": lab.pk, "dataset_id": dataset.pk, "run_id": run.pk, "user_id": bob.pk, "token": token,
            "note_id": note_create(run=run, user=alice, body="hi").pk}


@pytest.fixture
def alices_key(alice):
    return token_create(user=alice, name="schemathesis")[1]


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case, alices_key, alices_objects):
    for name in case.path_parameters:
        if name in alices_objects:
            case.path_parameters[name] = alices_objects[name]
    response = case.call(headers={"Authorization": f"Token {alices_key}"})
    case.validate_response(response, checks=[not_a_server_error])
