"""What the web platform costs on top of the engine: the same search through NASweb's worker path and the CLI.

    .venv/bin/python -m benchmarks.platform_overhead --budget 60 --seed 0

Both sides search the digits sample with the same budget and seed. The platform side goes the way a user's run
goes (upload stored, ingested by the worker code, run claimed, events stored and published, artifacts saved), in
embedded mode in this process; the CLI side is `python -m apps.nas search`. Prints a markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def platform_side(budget: float, seed: int, data_dir: Path) -> dict:
    os.environ.update(NASWEB_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="nasweb.settings.base")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.core.management import call_command

    from apps.datasets.models import Dataset
    from apps.datasets.processing import dataset_ingest
    from apps.datasets.samples import digits_archive_ensure
    from apps.datasets.services import dataset_create_from_file
    from apps.runs.execution import run_execute
    from apps.runs.models import Run
    from apps.runs.services import run_create
    from nasweb.worker_boot import worker_prepare

    worker_prepare()  # what a worker process does at boot, PyTorch's thread count included
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    with open(digits_archive_ensure(data_dir / "digits.zip"), "rb") as handle:
        dataset = dataset_create_from_file(team=user.teams.get(), user=user, name="digits", file=File(handle))
    started = time.monotonic()
    dataset_ingest(dataset_id=dataset.pk)
    ingest_seconds = time.monotonic() - started
    run = run_create(team=user.teams.get(), user=user, dataset=Dataset.objects.get(pk=dataset.pk),
                     budget_seconds=budget, seed=seed)
    started = time.monotonic()
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED, run.error
    return {"seconds": time.monotonic() - started, "test_accuracy": run.best["test_accuracy"],
            "events": run.last_event_seq, "ingest_seconds": ingest_seconds}


def cli_side(budget: float, seed: int, work: Path) -> dict:
    from apps.datasets.samples import digits_archive_ensure

    with zipfile.ZipFile(digits_archive_ensure(work / "digits.zip")) as archive:
        archive.extractall(work / "folder")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "apps.nas", "search", str(work / "folder" / "digits"), "--budget",
                    str(budget), "--seed", str(seed), "--out", str(work / "out")], cwd=REPO, check=True,
                   capture_output=True)
    result = json.loads((work / "out" / "result.json").read_text())
    return {"seconds": time.monotonic() - started, "test_accuracy": result["best"]["test_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        cli = cli_side(args.budget, args.seed, scratch / "cli")
        web = platform_side(args.budget, args.seed, scratch / "web")
    print(f"| path | wall time (s) | test accuracy |\n| --- | --- | --- |\n"
          f"| engine CLI | {cli['seconds']:.1f} | {100 * cli['test_accuracy']:.1f}% |\n"
          f"| NASweb worker path | {web['seconds']:.1f} | {100 * web['test_accuracy']:.1f}% |\n\n"
          f"budget {args.budget:g} s, seed {args.seed}; the platform stored and published {web['events']} events; "
          f"ingesting the upload took {web['ingest_seconds']:.1f} s before the run (not in its wall time).")


if __name__ == "__main__":
    main()
