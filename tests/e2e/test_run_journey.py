import subprocess
import sys
import zipfile

import pytest
from playwright.sync_api import expect

from apps.nas.names import BACKBONE_NAMES

from .conftest import screenshot
from .test_dataset_upload import log_in

pytestmark = pytest.mark.e2e


def test_from_sample_data_to_a_downloaded_model_that_runs_alone(app_server, page, tmp_path):
    url = app_server["url"]
    log_in(page, url, "demo", app_server["demo_password"])
    page.goto(url + "/datasets/")
    page.get_by_role("button", name="Try the sample dataset").click()
    expect(page.get_by_role("link", name="Train a model on this")).to_be_visible(timeout=90_000)

    page.get_by_role("link", name="Train a model on this").click()
    page.get_by_text("Custom", exact=True).first.click()
    page.get_by_label("Custom minutes").fill("1")
    # "about N candidate networks", or "one proven network" when a minute is too short to search on this worker.
    expect(page.locator("#estimate-candidates")).to_contain_text("network")
    expect(page.locator("#estimate-text")).to_contain_text("1 minute")  # the budget just typed
    page.get_by_text("Advanced").click()
    expect(page.get_by_label("Image size")).to_have_value("")  # the dataset's own side, recommended
    screenshot(page, "run-new")
    page.get_by_role("button", name="Start the search").click()

    expect(page.locator("#leaderboard tbody tr").first).to_be_visible(timeout=60_000)
    # Each candidate has a plain name; its settings and the log wait behind their folds.
    expect(page.locator("#leaderboard tbody tr").first.locator("td").last).to_contain_text("network")
    expect(page.locator("#log")).to_be_hidden()
    page.get_by_text("every step of the search").click()
    expect(page.locator("#log li").first).to_be_visible()
    first = page.locator("#leaderboard tbody tr").first
    first.get_by_text("Details").click()
    expect(first.locator(".genotype")).to_contain_text(" ep")  # the settings, epochs and all
    screenshot(page, "run-dashboard")

    expect(page.locator("#result-words")).to_contain_text("times out of 100", timeout=180_000)
    expect(page.locator("#downloads li")).to_have_count(5)
    screenshot(page, "run-result")
    # The page shows what the run measured, as the API serves it.
    run_id = page.url.rstrip("/").split("/")[-1]
    result = page.request.get(f"{url}/api/runs/{run_id}/result/").json()
    parity, summary = result["summary"]["onnx_parity"], result["summary"]
    expect(page.locator("#search-summary")).to_contain_text(
        f"ONNX agrees with PyTorch on {100 * parity['prediction_agreement']:.1f}% of {parity['images']} test images")
    channels, height, width = summary["input_shape"]
    expect(page.locator("#architecture")).to_contain_text(f"{width} × {height} px, grayscale")  # digits are grey
    genotype = result["best"]["genotype"]
    # A minute on the digits may end with the frozen pretrained probe or with a network from scratch.
    network = (BACKBONE_NAMES[genotype["backbone"]] if "backbone" in genotype
               else f"3×3 conv, {genotype['stem_width']} ch")
    expect(page.locator("#architecture")).to_contain_text(network)
    expect(page.locator("#result-words")).to_contain_text(f"on {result['test_report']['images']} images it never saw")

    with page.expect_download() as download:
        page.get_by_role("link", name="Ready-to-run bundle (.zip)").click()
    bundle = tmp_path / "bundle.zip"
    download.value.save_as(bundle)
    with zipfile.ZipFile(tmp_path / "bundle.zip") as archive:
        archive.extractall(tmp_path / "bundle")
    with zipfile.ZipFile(app_server["data_dir"] / "samples" / "digits.zip") as sample:
        sample.extract("digits/seven/0007.png", tmp_path)
    digit = tmp_path / "digits" / "seven" / "0007.png"
    printed = subprocess.run([sys.executable, "predict.py", str(digit)], cwd=tmp_path / "bundle",
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    path, label, confidence = printed.stdout.strip().split("\t")
    assert path == str(digit) and label in {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                            "nine"} and 0 < float(confidence) <= 1

    page.set_input_files("#try-image", str(digit))  # choosing it classifies it
    expect(page.locator("#try-result li")).to_have_count(3)
    expect(page.locator("#try-result li").first).to_contain_text(label)
    screenshot(page, "run-try-it")
