import json
import threading
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.datasets.models import Dataset
from apps.nas.results import Mistake
from apps.runs import execution
from apps.runs.models import Run
from tests.fake_results import GENOTYPE, fake_best, fake_result

# What ingestion records of 28 x 28 images, e.g. MNIST's.
STATS_28PX = {"resolution": 28, "width": {"min": 28, "median": 28, "max": 28},
              "height": {"min": 28, "median": 28, "max": 28}}


class FakeDataset:
    num_classes = 2

    def __len__(self):
        return 10


class FakeEngine:
    """Stands in for run_search: emits a short search's events, writes the exported files, obeys the control."""

    def __init__(self):
        self.calls = 0
        self.sides = []  # the image side each attempt loaded its dataset at (None: as ingested)
        self.configs = []  # the SearchConfig of each attempt
        self.hold = threading.Event()  # while set, the search "trains" until cancelled
        self.lock = threading.Lock()

    def __call__(self, config, dataset, work_dir, *, on_event, control, worker, **parallel_options):
        with self.lock:
            self.calls += 1
            self.configs.append(config)
        emit = lambda type_, **fields: on_event({"type": type_, "elapsed_seconds": 1.0, "progress": 0.5,  # noqa: E731
                                                 "eta_seconds": 10.0, **fields})
        emit("run_started", device="cpu", strategy=config.strategy, budget_seconds=config.budget_seconds,
             dataset={"num_images": len(dataset), "num_classes": dataset.num_classes}, resumed=False)
        emit("trial_started", trial_id=0, name="small network from scratch", genotype_summary="plain 16",
             genotype=GENOTYPE, epochs=2, params=1000, flops=10, latency_ms=0.5, size_mb=0.01, device="cpu",
             worker=worker)
        for epoch in (1, 2):
            emit("epoch_finished", trial_id=0, phase="search", epoch=epoch, total_epochs=2, train_loss=1.0,
                 train_accuracy=0.5, val_loss=1.0, val_accuracy=0.4 * epoch)
        while self.hold.is_set() and not control.cancelled():
            time.sleep(0.05)
        cancelled = control.cancelled()
        emit("trial_finished", trial_id=0, val_accuracy=0.8, epochs=2, seconds=1.0, params=1000, flops=10,
             latency_ms=0.5, size_mb=0.01, cv_accuracy=0.78)
        emit("new_best", trial_id=0, val_accuracy=0.8, genotype_summary="plain 16", params=1000, latency_ms=0.5)
        work_dir.mkdir(parents=True, exist_ok=True)
        for name in ("bundle.zip", "model.onnx", "model.torchscript.pt", "weights.pt"):
            (work_dir / name).write_bytes(b"fake " + name.encode())
        result = fake_result(status="cancelled" if cancelled else "finished")
        (work_dir / "result.json").write_text(json.dumps(result.to_dict()))
        emit("run_finished", status=result.summary.status, best_trial_id=0, val_accuracy=0.8, test_accuracy=0.75,
             trials={"complete": 1})
        return result


@pytest.fixture
def fake_engine(monkeypatch):
    engine = FakeEngine()
    monkeypatch.setattr(execution, "run_search", engine)
    monkeypatch.setattr(execution, "dataset_training_load",
                        lambda dataset, scratch, side=None: engine.sides.append(side) or FakeDataset())
    return engine


@pytest.fixture
def ready_dataset(alice, lab):
    return Dataset.objects.create(team=lab, created_by=alice, name="Parts", status="ready",
                                  num_images=10, classes=[{"name": "a", "count": 5}, {"name": "b", "count": 5}],
                                  training_file="fake/training.npz", stats=STATS_28PX)


@pytest.fixture
def finished_run(alice, ready_dataset):
    """Alice's finished run, its model files in storage."""
    run = Run.objects.create(
        team=ready_dataset.team, created_by=alice, dataset=ready_dataset, name="Parts sorter", budget_seconds=60,
        original_budget_seconds=60, status="finished", best=fake_best(),
        result={**fake_result(misclassified=[Mistake("a/private-photo.png", "a", "b", 0.6)]).to_dict(),
                "files": {"onnx": "/srv/nasweb/runs/1/model.onnx"}})
    run.artifacts = {kind: default_storage.save(f"{run.storage_prefix}/{name}", ContentFile(f"{kind} bytes".encode()))
                     for kind, name in (("bundle", "bundle.zip"), ("onnx", "model.onnx"), ("result", "result.json"))}
    run.save(update_fields=["artifacts"])
    return run
