import json
import subprocess
import sys
from pathlib import Path

import pytest

from apps.nas.__main__ import main, parse_args
from apps.nas.names import STRATEGY_SENTENCES
from apps.nas.strategies import STRATEGIES

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


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_cli_accepts_every_registered_strategy(strategy):
    assert parse_args(["search", "images", "--out", "out", "--strategy", strategy]).strategy == strategy


def test_cli_help_explains_every_registered_strategy(capsys):
    with pytest.raises(SystemExit):
        parse_args(["search", "--help"])

    shown = " ".join(capsys.readouterr().out.split())  # the sentences are wrapped to the terminal
    for strategy in STRATEGIES:
        assert f"{strategy} {STRATEGY_SENTENCES[strategy]}" in shown
