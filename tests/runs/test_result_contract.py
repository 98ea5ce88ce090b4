"""The result page reads only what a real engine result, served by the API, holds."""

import re
from dataclasses import fields
from pathlib import Path

import pytest
from optuna.trial import FixedTrial

from apps.nas import results
from apps.nas.leaderboard import genotype_summary
from apps.nas.names import BACKBONE_STAGES
from apps.nas.search import run_search
from apps.nas.space import SearchSpace
from apps.runs.models import Run
from tests.fake_results import PRETRAINED_GENOTYPE, PRETRAINED_SUMMARY, fake_result
from tests.nas.conftest import write_image_folder
from tests.nas.tiny_search import tiny_config

RESULT_JS = Path(__file__).resolve().parents[2] / "static" / "runs" / "result.js"
# The names result.js gives to parts of the result, and where each part is in it. It reads a genotype through
# `genotype` and `stage` for a network from scratch, through `pretrained` for one built on a pretrained network.
ALIASES = {"result": (), "report": ("test_report",), "best": ("best",), "summary": ("summary",),
           "baseline": ("baseline",), "genotype": ("best", "genotype"), "stage": ("best", "genotype", "stages", 0),
           "pretrained": ("best", "genotype")}
FROM_SCRATCH_ONLY = {"genotype", "stage"}
PRETRAINED_ONLY = {"pretrained"}


RECORDS = (results.SearchResult, results.BestModel, results.TestReport, results.ClassScores, results.Candidate,
           results.CurvePoint, results.ParetoPoint, results.Summary, results.Parity, results.Baseline, results.Mistake)
JS_METHODS = {"map", "reduce", "forEach", "filter", "toFixed", "toLocaleString", "length"}


def paths_the_page_reads(aliases: set[str]) -> set[tuple]:
    """Every property chain result.js reads from the result through `aliases`, e.g. ("summary", "onnx_parity",
    "images")."""
    chains = re.findall(rf"\b({'|'.join(aliases)})((?:\??\.[a-zA-Z_][a-zA-Z_0-9]*)+)", RESULT_JS.read_text())
    paths = set()
    for alias, tail in chains:
        names = [name for name in tail.replace("?", "").split(".") if name]
        paths.add(ALIASES[alias] + tuple(name for name in names if name not in JS_METHODS))
    return paths


def lookup(result: dict, path: tuple):
    for key in path:
        result = result[key]
    return result


def missing(served: dict, paths: set[tuple]) -> list[tuple]:
    """The paths the served result has no value at."""
    absent = []
    for path in sorted(paths, key=str):
        try:
            if lookup(served, path) is None:
                absent.append(path)
        except (KeyError, IndexError, TypeError):
            absent.append(path)
    return absent


def served_result(api_client, user, dataset, result: dict) -> dict:
    """`result` stored as a finished run's and served to `user` by the API, as the result page fetches it."""
    run = Run.objects.create(team=dataset.team, created_by=user, dataset=dataset, name="tiny", budget_seconds=30,
                             original_budget_seconds=30, status="finished", result=result)
    api_client.force_login(user)
    return api_client.get(f"/api/runs/{run.pk}/result/").json()


@pytest.fixture(scope="module")
def engine_result(tmp_path_factory):
    """A real, tiny search with export on: what a worker stores."""
    data = write_image_folder(tmp_path_factory.mktemp("data"), classes=3, per_class=16, size=(12, 10))
    return run_search(tiny_config(export=True, max_trials=2), data, tmp_path_factory.mktemp("run")).to_dict()


def test_the_page_reads_nothing_a_real_result_lacks(api_client, alice, ready_dataset, engine_result):
    served = served_result(api_client, alice, ready_dataset, engine_result)

    read = paths_the_page_reads(ALIASES.keys() - PRETRAINED_ONLY)
    assert {("summary", "onnx_parity", "prediction_agreement"), ("summary", "input_shape"),
            ("best", "genotype", "stem_width"), ("test_report", "images")} <= read  # the parser sees the page
    absent = missing(served, read)
    assert not absent, f"result.js reads fields the API does not serve: {absent}"


def test_the_page_reads_nothing_a_pretrained_result_lacks(api_client, alice, ready_dataset):
    served = served_result(api_client, alice, ready_dataset, fake_result(pretrained=True).to_dict())

    read = paths_the_page_reads(ALIASES.keys() - FROM_SCRATCH_ONLY)
    assert {("best", "genotype", "backbone"), ("best", "genotype", "finetune"), ("best", "genotype", "head_hidden"),
            ("best", "genotype", "side"), ("summary", "input_shape")} <= read  # the parser sees the page
    absent = missing(served, read)
    assert not absent, f"result.js reads fields the API does not serve: {absent}"


def test_the_fake_pretrained_result_holds_a_genotype_the_engine_makes():
    space = SearchSpace()

    assert space.suggest(FixedTrial(space.to_params(PRETRAINED_GENOTYPE))) == PRETRAINED_GENOTYPE
    assert genotype_summary(PRETRAINED_GENOTYPE) == PRETRAINED_SUMMARY


def test_the_page_counts_a_pretrained_networks_stages_as_the_engine_does():
    assert f"const BACKBONE_STAGES = {BACKBONE_STAGES};" in RESULT_JS.read_text()


def test_the_served_result_is_the_engines_with_thumbnails_added(api_client, alice, ready_dataset, engine_result):
    served = served_result(api_client, alice, ready_dataset, engine_result)

    assert [{k: v for k, v in m.items() if k != "thumbnail_url"} for m in served.pop("misclassified")] == \
        engine_result["misclassified"]
    assert served == {key: value for key, value in engine_result.items() if key != "misclassified"}


def test_the_api_schema_declares_the_result_the_engine_writes(api_client, alice):
    api_client.force_login(alice)
    schemas = api_client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]

    def declared(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    engine = {record.__name__: {field.name for field in fields(record)} for record in RECORDS}
    assert declared("RunResult") == engine["SearchResult"]
    assert declared("SharedResult") == engine["SearchResult"] - {"misclassified", "files"}
    assert declared("MistakeShown") == engine["Mistake"] | {"thumbnail_url"}
    for name in engine.keys() - {"SearchResult", "Mistake"}:
        assert declared(name) == engine[name], name
