"""A run that fails says why in plain words, and one that had trained candidates keeps them for a retry."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.runs import execution
from apps.runs.failures import INTERNAL_ERROR
from apps.runs.models import Run
from tests.nas.conftest import write_image_folder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_configurations]


def queued_run(dataset, user, **fields) -> Run:
    return Run.objects.create(team=dataset.team, created_by=user, dataset=dataset, name="Parts", budget_seconds=60,
                              original_budget_seconds=60, **fields)


def execute(run: Run) -> Run:
    execution.run_execute(run_id=run.pk, open_slot=lambda slot: None)
    return Run.objects.get(pk=run.pk)


@pytest.mark.parametrize("content", [b"", b"not a numpy archive at all", b"PK\x03\x04truncated"])
def test_a_corrupt_training_copy_says_to_upload_the_dataset_again(ready_dataset, alice, content):
    default_storage.delete(ready_dataset.training_file)
    default_storage.save(ready_dataset.training_file, ContentFile(content))

    run = execute(queued_run(ready_dataset, alice))

    assert run.status == "failed"
    assert run.error == "The dataset's training copy could not be read; upload the dataset again."


def test_a_missing_training_copy_says_to_upload_the_dataset_again(ready_dataset, alice):
    default_storage.delete(ready_dataset.training_file)

    assert "upload the dataset again" in execute(queued_run(ready_dataset, alice)).error


def test_a_run_folder_that_cannot_be_written_is_named(ready_dataset, alice, settings, tmp_path, monkeypatch):
    from apps.nas.data import load_image_folder

    dataset = load_image_folder(write_image_folder(tmp_path / "images", classes=2, per_class=10))
    monkeypatch.setattr(execution, "dataset_training_load", lambda *args: dataset)
    (tmp_path / "a-file").write_text("runs cannot live under a file, whoever the worker runs as")
    settings.NASWEB_RUNS_DIR = tmp_path / "a-file" / "runs"
    run = queued_run(ready_dataset, alice)

    run = execute(run)

    assert run.status == "failed"
    assert run.error == (f"The worker could not write to its run folder ({run.work_dir}): "
                         "part of its path is a file, not a folder.")


def test_a_full_disk_is_named(ready_dataset, alice, fake_engine, monkeypatch):
    def disk_full(*args, **options):
        raise OSError(28, "No space left on device", str(Run.objects.get().work_dir / "state.json"))

    monkeypatch.setattr(execution, "run_search", disk_full)

    run = execute(queued_run(ready_dataset, alice))

    assert run.error == f"The worker could not write to its run folder ({run.work_dir}): the disk is full."


def test_an_unknown_error_stays_an_internal_error(ready_dataset, alice, fake_engine, monkeypatch):
    monkeypatch.setattr(execution, "run_search", lambda *args, **options: {}["custom"])

    assert execute(queued_run(ready_dataset, alice)).error == INTERNAL_ERROR
