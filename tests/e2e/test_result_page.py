"""The result page of stored results, without a search: what it says about the network that was found."""

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from .conftest import screenshot
from .processes import REPO
from .test_dataset_upload import log_in

pytestmark = pytest.mark.e2e

# Two finished runs of alice's: one whose best network is EfficientNet-Lite0 with its last 3 stages fine-tuned,
# one whose best network was built from scratch. Prints their ids.
STORED_RUNS = f"""
from django.contrib.auth import get_user_model
from apps.datasets.models import Dataset
from apps.runs.models import Run
from tests.fake_results import fake_result
alice = get_user_model().objects.create_user(username="alice", password={PASSWORD!r})
team = alice.teams.get(is_personal=True)
dataset = Dataset.objects.create(team=team, created_by=alice, name="Parts", status="ready", num_images=10,
                                 classes=[{{"name": "a", "count": 5}}, {{"name": "b", "count": 5}}])
for pretrained in (True, False):
    run = Run.objects.create(team=team, created_by=alice, dataset=dataset, name="Parts", budget_seconds=60,
                             original_budget_seconds=60, status="finished",
                             result=fake_result(pretrained=pretrained).to_dict())
    print(run.pk)
"""
# A finished run whose network is right on 3 of the 4 test images, the simple method on all 4. Prints its id and its
# dataset's.
BASELINE_WINS = STORED_RUNS.split("for pretrained")[0] + """
result = fake_result().to_dict()
result["baseline"]["test_accuracy"] = 1.0
run = Run.objects.create(team=team, created_by=alice, dataset=dataset, name="Parts", budget_seconds=120,
                         original_budget_seconds=120, status="finished", result=result)
print(run.pk, dataset.pk)
"""


def store_and_log_in(app_server, page, script: str) -> list[str]:
    """Run a script of stored runs in the app's shell, log alice in; the two ids the script printed last."""
    stored = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=REPO,
                            env=app_server["env"], check=True, capture_output=True, text=True, timeout=120)
    log_in(page, app_server["url"], "alice", PASSWORD)
    return stored.stdout.split()[-2:]


def test_the_result_page_says_where_the_network_came_from(app_server, page):
    url = app_server["url"]
    pretrained, from_scratch = store_and_log_in(app_server, page, STORED_RUNS)
    boxes = page.locator("#architecture .arch__box")

    page.goto(f"{url}/runs/{pretrained}/")
    expect(page.locator("#architecture-words")).to_have_text(
        "NASweb started from EfficientNet-Lite0, a network pretrained on 1.2 million photos (ImageNet), fine-tuned "
        "its last 3 of 9 stages and trained a new classifier with 256 hidden units on your images.")
    expect(boxes).to_have_text(["Input128 × 128 px, colour", "Resizedto 96 × 96 px",
                                "EfficientNet-Lite0pretrained on ImageNet — last 3 of 9 stages fine-tuned",
                                "HeadMLP, 256 hidden units → dropout 0.1 → classes"])
    expect(page.locator("#search-summary")).to_contain_text(
        "the best candidate, trained 4 more rounds on training + validation images")
    # Chosen on small data by cross-validation: that estimate stands beside the test figure, named as such.
    expect(page.locator("#result-sub")).to_contain_text(
        "A second estimate, from all 6 other images: right 83 times out of 100 (5-fold cross-validation")
    expect(page.locator("#search-story")).to_contain_text("(80.0% on validation, 83.0% in 5-fold cross-validation)")
    # Facts in words, not the engine's names: "1 complete", "auto", "cpu".
    for words in ("1 fully trained", "Automatic (recommended)", "the processor (CPU)"):
        expect(page.locator("#search-summary")).to_contain_text(words)
    screenshot(page, "run-result-pretrained")

    page.goto(f"{url}/runs/{from_scratch}/")
    expect(page.locator("#architecture-words")).to_have_text(
        "NASweb designed this network for your images and trained it from scratch.")
    expect(page.locator("#result-sub")).not_to_contain_text("second estimate")
    expect(page.locator("#baseline-wins")).to_be_hidden()  # the network beat the simple method
    expect(boxes).to_have_text(["Input28 × 28 px, grayscale", "Stem3×3 conv, 16 ch", "Stage 11 × plain, 16 ch, 3×3",
                                "Headpool → dropout 0.1 → classes"])


def test_when_the_simple_method_beats_the_network_the_page_says_so_first_and_offers_a_longer_run(app_server, page):
    url = app_server["url"]
    run_id, dataset_id = store_and_log_in(app_server, page, BASELINE_WINS)

    page.goto(f"{url}/runs/{run_id}/")
    warning = page.locator("#baseline-wins")
    expect(warning).to_contain_text("A simple method did better than this network.")
    expect(warning).to_contain_text(
        "On the same 4 test images, logistic regression on the pixels got 1 more right (100 times out of 100 against "
        "75). By a single image, which may be chance.")
    # It comes before the headline's figure.
    assert warning.bounding_box()["y"] < page.locator("#result-words").bounding_box()["y"]
    screenshot(page, "run-result-baseline-wins")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "run-result-baseline-wins-phone")

    warning.get_by_role("link", name="Run again with 6 minutes").click()
    expect(page).to_have_url(f"{url}/runs/new/?dataset={dataset_id}&minutes=6")
    expect(page.locator("input[name=budget][value=custom]")).to_be_checked()
    expect(page.locator("input[name=custom_minutes]")).to_have_value("6.0")
    expect(page.locator("select[name=dataset]")).to_have_value(dataset_id)
