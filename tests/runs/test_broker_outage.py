"""A run launched while the broker is down is accepted and queued; the reaper sends it once the broker is back."""

from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from apps.runs import services
from apps.runs.models import Run
from apps.runs.tasks import execute_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_configurations]


@pytest.fixture
def broker_down(monkeypatch):
    """Sending a run's message fails as Dramatiq's Redis broker fails with Redis stopped."""

    def unreachable(*args, **options):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(execute_run, "send_with_options", unreachable)
    return monkeypatch


def test_a_run_created_through_the_api_while_the_broker_is_down_is_queued(api_client, alice, ready_dataset,
                                                                          broker_down):
    api_client.force_login(alice)

    response = api_client.post("/api/runs/", {"dataset": ready_dataset.pk, "budget_seconds": 300}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"


def test_a_run_launched_from_the_form_while_the_broker_is_down_opens_its_page(client, alice, ready_dataset,
                                                                            broker_down):
    client.force_login(alice)

    response = client.post("/runs/new/", {"dataset": ready_dataset.pk, "budget": "quick", "target": "any",
                                          "strategy": "auto", "seed": 0, "block_types": ["plain"]})

    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.status == "queued"


def test_the_reaper_sends_the_run_once_the_broker_is_back(alice, ready_dataset, broker_down):
    run = services.run_create(team=ready_dataset.team, user=alice, dataset=ready_dataset, budget_seconds=300)
    broker_down.undo()
    sent = []
    broker_down.setattr(execute_run, "send_with_options", lambda args, **options: sent.append(args))
    long_ago = timezone.now() - timedelta(seconds=services.REQUEUE_AFTER_SECONDS + 1)
    Run.objects.filter(pk=run.pk).update(created=long_ago, enqueued_at=long_ago)

    services.runs_reap()

    assert sent == [(run.pk,)]
