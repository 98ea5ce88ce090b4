import time

import pytest
from playwright.sync_api import expect

from tests.datasets.conftest import class_folder_files
from tests.datasets.test_upload_api import zip_of

from .conftest import screenshot

pytestmark = pytest.mark.e2e


def log_in(page, url, username, password):
    page.goto(url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")


UPLOAD_CHUNKS = "**/api/datasets/*/upload/"


def slow_chunks(page):
    """Hold each chunk a moment, as a slow connection would, so the progress bar can be seen."""

    def delay(route):
        time.sleep(1.0)
        route.continue_()

    page.route(UPLOAD_CHUNKS, delay)


def hold_chunks(page) -> list:
    """Hold every chunk until released, so a picture of the upload is not raced by the page opening the dataset."""
    held = []

    def hold(route):
        held.append(route)

    page.route(UPLOAD_CHUNKS, hold)
    return held


def release_chunks(page, held: list) -> None:
    for route in held:
        route.continue_()
    page.unroute(UPLOAD_CHUNKS)


def test_a_user_uploads_a_zip_and_sees_what_nasweb_found(app_server, page, tmp_path):
    members = class_folder_files({"bolt": 20, "nut": 20, "washer": 20}, prefix="hardware/")
    members["hardware/washer/copy.png"] = members["hardware/washer/img_0.png"]  # an exact duplicate to report
    members["hardware/nut/notes.txt"] = b"not an image"
    archive = tmp_path / "hardware.zip"
    archive.write_bytes(zip_of(members))
    log_in(page, app_server["url"], "demo", app_server["demo_password"])

    page.get_by_role("link", name="Datasets").first.click()
    expect(page.get_by_role("heading", name="No datasets yet")).to_be_visible()
    screenshot(page, "datasets-empty")
    page.get_by_role("link", name="Upload your images").click()
    page.set_input_files("#archive-input", str(archive))
    expect(page.get_by_label("Name")).to_have_value("hardware")
    held = hold_chunks(page)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.locator("#progress-text")).to_contain_text(" of ")
    while not held:
        page.wait_for_timeout(50)
    screenshot(page, "dataset-uploading")
    release_chunks(page, held)

    expect(page.get_by_role("heading", name="What NASweb found")).to_be_visible(timeout=60_000)
    expect(page.locator('[data-code="exact_duplicates"]')).to_be_visible()
    expect(page.get_by_role("link", name="Train a model on this")).to_be_visible()
    expect(page.locator("#gallery-grid img")).to_have_count(20)
    page.get_by_role("tab", name="nut").click()
    expect(page.locator("#gallery-grid figcaption").first).to_have_text("img_0.png")
    screenshot(page, "dataset-detail")


def test_the_sample_dataset_is_one_click_away(app_server, page):
    log_in(page, app_server["url"], "demo", app_server["demo_password"])
    page.goto(app_server["url"] + "/datasets/")

    page.get_by_role("button", name="Try the sample dataset").click()

    expect(page.get_by_role("heading", name="What NASweb found")).to_be_visible(timeout=90_000)
    expect(page.locator(".stat__value").first).to_have_text("1797")
    page.goto(app_server["url"] + "/datasets/")
    expect(page.get_by_role("link", name="Handwritten digits (sample)")).to_be_visible()
    screenshot(page, "datasets-list")


def test_a_picked_folder_uploads_as_a_dataset(app_server, page, tmp_path):
    folder = tmp_path / "leaves"
    for name, content in class_folder_files({"healthy": 8, "spotted": 8}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    log_in(page, app_server["url"], "demo", app_server["demo_password"])
    page.goto(app_server["url"] + "/datasets/new/")

    page.set_input_files("#folder-input", str(folder))
    expect(page.locator("#chosen")).to_contain_text("16 files")
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_role("heading", name="What NASweb found")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("tab", name="healthy")).to_be_visible()
    expect(page.locator(".stat__value").first).to_have_text("16")


def test_cancelling_an_upload_halfway_leaves_nothing_behind(app_server, page, tmp_path):
    archive = tmp_path / "big.zip"
    archive.write_bytes(bytes(20 * 1024 * 1024))  # three 8 MB chunks
    log_in(page, app_server["url"], "demo", app_server["demo_password"])
    page.goto(app_server["url"] + "/datasets/new/")
    slow_chunks(page)

    page.set_input_files("#archive-input", str(archive))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#progress-text")).to_contain_text("8.0 MB of", timeout=30_000)
    page.get_by_role("button", name="Cancel upload").click()
    expect(page.locator("#upload-progress")).to_be_hidden()

    page.goto(app_server["url"] + "/datasets/")
    expect(page.get_by_role("heading", name="No datasets yet")).to_be_visible()
