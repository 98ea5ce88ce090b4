"""A run of alice's (running, 600 s, unless told otherwise) written straight into the app server's database, in
the state a page test needs."""

import subprocess
import sys

from tests.conftest import PASSWORD

from .processes import REPO

ALICES_RUN = f"""
from django.contrib.auth import get_user_model
from apps.datasets.models import Dataset
from apps.runs.models import Run
from apps.runs.progress import run_event_store
alice = get_user_model().objects.create_user(username="alice", password={PASSWORD!r})
team = alice.teams.get(is_personal=True)
dataset = Dataset.objects.create(team=team, created_by=alice, name="Parts", status="ready", num_images=10,
                                 classes=[{{"name": "a", "count": 5}}, {{"name": "b", "count": 5}}])
run = Run.objects.create(team=team, created_by=alice, dataset=dataset, **{{
    "name": "Parts", "budget_seconds": 600, "original_budget_seconds": 600, "status": "running", **RUN_FIELDS}})
"""


def stored_run(app_server, events: str, **run_fields) -> str:
    """Alice's run with `run_fields` (any of Run's), after `events` (Python run with `run` and `run_event_store` at
    hand); its id."""
    script = f"RUN_FIELDS = {run_fields!r}\n{ALICES_RUN}\n{events}\nprint(run.pk)\n"
    stored = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=REPO, env=app_server["env"],
                            check=True, capture_output=True, text=True, timeout=120)
    return stored.stdout.split()[-1]
