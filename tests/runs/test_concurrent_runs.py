"""Two searches at once in embedded mode, one exporting while the other trains, both finish: each runs in a process
of its own, so neither touches the other's PyTorch state (an ONNX export in one thread once crashed another run's
training with KeyError: 'custom' from torch.fx, whose tracing metadata is process-global)."""

import os

import dramatiq
import pytest
from django.core.files import File
from django.core.files.storage import default_storage

from apps.datasets.models import Dataset
from apps.nas.data import load_image_folder
from apps.runs.models import Run
from apps.runs.services import run_create
from tests.nas.conftest import write_image_folder

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tiny_dataset(alice, tmp_path):
    """Two classes of 12 px grey squares, as ingestion stores them."""
    images = load_image_folder(write_image_folder(tmp_path / "images", classes=2, per_class=30, size=(12, 12)))
    images.save(tmp_path / "training.npz")
    with open(tmp_path / "training.npz", "rb") as handle:
        stored = default_storage.save("test-concurrent-runs/training.npz", File(handle))
    return Dataset.objects.create(team=alice.teams.get(), created_by=alice, name="Squares", status="ready",
                                  num_images=60, classes=[{"name": "class_0", "count": 30},
                                                          {"name": "class_1", "count": 30}],
                                  training_file=stored, stats={"resolution": 12})


def test_two_runs_at_once_in_embedded_mode_each_train_in_their_own_process_and_both_finish(
        alice, tiny_dataset, settings):
    settings.NASWEB_RUNS_IN_CHILD_PROCESSES = True  # as in embedded mode, where the test settings turn it off
    broker = dramatiq.get_broker()
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)  # `manage.py up`'s embedded worker
    worker.start()
    try:
        # The shorter run exports while the longer one still trains.
        runs = [run_create(team=alice.teams.get(), user=alice, dataset=tiny_dataset, budget_seconds=budget,
                           strategy="random", backbones=[], block_types=["plain"]) for budget in (30, 50)]
        for queue in broker.get_declared_queues():
            broker.join(queue, timeout=180_000)
        worker.join()
    finally:
        worker.stop()

    runs = [Run.objects.get(pk=run.pk) for run in runs]
    assert [run.status for run in runs] == ["finished", "finished"], [run.error for run in runs]
    assert all("onnx" in run.artifacts for run in runs)
    pids = {int(run.worker.split(":")[1]) for run in runs}
    assert len(pids) == 2 and os.getpid() not in pids, "each run trains in a child process of its own"
    events = [event.payload["type"] for event in runs[1].events.order_by("seq")]
    assert events[0] == "run_started" and events[-1] == "run_finished"
