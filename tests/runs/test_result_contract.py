"""The result page reads only what a real engine result, served by the API, holds."""

import re
from dataclasses import fields
from pathlib import Path

import pytest

from apps.nas import results
from apps.nas.search import run_search
from apps.runs.models import Run
from tests.nas.conftest import write_image_folder
from tests.nas.tiny_search import tiny_config

RESULT_JS = Path(__file__).resolve().parents[2] / "static" / "runs" / "result.js"
# The names result.js gives to parts of the result, and where each part is in it.
ALIASES = {"result": (), "report": ("test_report",), "best": ("best",), "summary": ("summary",),
           "baseline": ("baseline",), "genotype": ("best", "genotype"), "stage": ("best", "genotype", "stages", 0)}


RECORDS = (results.SearchResult, results.BestModel, results.TestReport, results.ClassScores, results.Candidate,
           results.CurvePoint, results.ParetoPoint, results.Summary, results.Parity, results.Baseline, results.Mistake)
JS_METHODS = {"map", "reduce", "forEach", "filter", "toFixed", "toLocaleString", "length"}


def paths_the_page_reads() -> set[tuple]:
    """Every property chain result.js reads from the result, e.g. ("summary", "onnx_parity", "images")."""
    chains = re.findall(rf"\b({'|'.join(ALIASES)})((?:\??\.[a-zA-Z_][a-zA-Z_0-9]*)+)", RESULT_JS.read_text())
    paths = set()
    for alias, tail in chains:
        names = [name for name in tail.replace("?", "").split(".") if name]
        paths.add(ALIASES[alias] + tuple(name for name in names if name not in JS_METHODS))
    return paths


def lookup(result: dict, path: tuple):
    for key in path:
        result = result[key]
    return result


@pytest.fixture(scope="module")
def engine_result(tmp_path_factory):
    """A real, tiny search with export on: what a worker stores."""
    data = write_image_folder(tmp_path_factory.mktemp("data"), classes=3, per_class=16, size=(12, 10))
    return run_search(tiny_config(export=True, max_trials=2), data, tmp_path_factory.mktemp("run")).to_dict()


def test_the_page_reads_nothing_a_real_result_lacks(api_client, alice, ready_dataset, engine_result):
    run = Run.objects.create(team=ready_dataset.team, created_by=alice, dataset=ready_dataset, name="tiny",
                             budget_seconds=30, original_budget_seconds=30, status="finished", result=engine_result)
    api_client.force_login(alice)

    served = api_client.get(f"/api/runs/{run.pk}/result/").json()

    read = paths_the_page_reads()
    assert {("summary", "onnx_parity", "prediction_agreement"), ("summary", "input_shape"),
            ("best", "genotype", "stem_width"), ("test_report", "images")} <= read  # the parser sees the page
    missing = []
    for path in sorted(read, key=str):
        try:
            if lookup(served, path) is None:
                missing.append(path)
        except (KeyError, IndexError, TypeError):
            missing.append(path)
    assert not missing, f"result.js reads fields the API does not serve: {missing}"


def test_the_served_result_is_the_engines_with_thumbnails_added(api_client, alice, ready_dataset, engine_result):
    run = Run.objects.create(team=ready_dataset.team, created_by=alice, dataset=ready_dataset, name="tiny",
                             budget_seconds=30, original_budget_seconds=30, status="finished", result=engine_result)
    api_client.force_login(alice)

    served = api_client.get(f"/api/runs/{run.pk}/result/").json()

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
