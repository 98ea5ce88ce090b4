"""The cast of every web test: alice owns a team, the Lab, bob is her teammate there, charlie is an outsider."""

import copy
import os
import uuid

import dramatiq
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps.accounts.models import Membership
from apps.accounts.services import membership_add, team_create

# back_to_the_latest_schema, for the tests of data migrations.
pytest_plugins = ["tests.migrations"]

PASSWORD = "correct horse battery staple"


def user_create(username: str):
    return get_user_model().objects.create_user(username=username, password=PASSWORD)


@pytest.fixture
def alice(db):
    return user_create("alice")


@pytest.fixture
def lab(alice):
    """The team alice owns and shares (a personal team is its owner's alone): alice's work in the tests is here."""
    return team_create(name="Lab", owner=alice)


@pytest.fixture
def bob(db, lab):
    bob = user_create("bob")
    membership_add(team=lab, user=bob, role=Membership.Role.MEMBER)
    return bob


@pytest.fixture
def charlie(db):
    return user_create("charlie")


@pytest.fixture
def running_worker():
    """A Dramatiq worker on the configured broker (stub when embedded, Redis when REDIS_URL is set)."""
    broker = dramatiq.get_broker()
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def drain(running_worker):
    """Wait until the worker has processed every queued message."""

    def wait():
        broker = dramatiq.get_broker()
        for queue in broker.get_declared_queues():
            broker.join(queue, timeout=120_000)
        running_worker.join()

    return wait


@pytest.fixture
def fresh_throttles(settings):
    """Log-in lock-outs and API throttles count in the shared cache: this test counts in a key space of its own."""
    caches = copy.deepcopy(settings.CACHES)
    for cache in caches.values():
        cache["KEY_PREFIX"] = uuid.uuid4().hex
    settings.CACHES = caches


@pytest.fixture
def api_client():
    return APIClient()


def pytest_collection_modifyitems(config, items):
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL (see README)")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)
