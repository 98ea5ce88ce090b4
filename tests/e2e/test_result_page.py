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


def test_the_result_page_says_where_the_network_came_from(app_server, page):
    url = app_server["url"]
    stored = subprocess.run([sys.executable, "manage.py", "shell", "-c", STORED_RUNS], cwd=REPO,
                            env=app_server["env"], check=True, capture_output=True, text=True, timeout=120)
    pretrained, from_scratch = stored.stdout.split()[-2:]
    log_in(page, url, "alice", PASSWORD)
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
    screenshot(page, "run-result-pretrained")

    page.goto(f"{url}/runs/{from_scratch}/")
    expect(page.locator("#architecture-words")).to_have_text(
        "NASweb designed this network for your images and trained it from scratch.")
    expect(page.locator("#result-sub")).not_to_contain_text("second estimate")
    expect(boxes).to_have_text(["Input28 × 28 px, grayscale", "Stem3×3 conv, 16 ch", "Stage 11 × plain, 16 ch, 3×3",
                                "Headpool → dropout 0.1 → classes"])
