import json
import subprocess
import sys
from pathlib import Path

from apps.nas.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def test_cli_search_writes_the_bundle_and_result_and_prints_the_leaderboard(make_image_folder, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["search", str(make_image_folder()), "--budget", "120", "--max-trials", "2", "--seed", "1",
                 "--max-params", "200000", "--out", str(out)])
    assert code == 0
    assert (out / "bundle.zip").exists()
    result = json.loads((out / "result.json").read_text())
    assert result["summary"]["seed"] == 1 and result["summary"]["constraints"]["max_params"] == 200000
    printed, progress = capsys.readouterr()
    assert "rank" in printed and "test accuracy" in printed and f"{out}/bundle.zip" in printed
    assert "%" in progress and "left" in progress


def test_cli_explains_a_bad_dataset_in_plain_words(tmp_path):
    (tmp_path / "empty").mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "apps.nas", "search", str(tmp_path / "empty"), "--budget", "60", "--out",
         str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr
