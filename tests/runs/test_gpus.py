import subprocess
import sys

from apps.runs.gpus import first_free

GPUS = ["GPU-4f1c", "GPU-9a2e"]


def test_workers_on_one_host_claim_a_gpu_each_before_sharing_one(tmp_path):
    assert [first_free(GPUS, tmp_path, slots=2) for _ in range(5)] == [0, 1, 0, 1, None]


def test_the_gpu_of_a_worker_that_died_is_claimed_again(tmp_path):
    claim_and_die = (f"import pathlib; from apps.runs.gpus import first_free; "
                     f"print(first_free({GPUS!r}, pathlib.Path({str(tmp_path)!r}), 1))")
    died = subprocess.run([sys.executable, "-c", claim_and_die], capture_output=True, text=True, check=True)

    assert died.stdout.strip() == "0"
    assert first_free(GPUS, tmp_path, slots=1) == 0
