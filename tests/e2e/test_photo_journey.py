import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests
import torch
from PIL import Image
from playwright.sync_api import expect

from apps.nas.build import build, deployed
from apps.nas.names import BACKBONE_NAMES
from apps.nas.preprocess import open_image, preprocess_image
from tests.nas.test_pretrained import CALTECH, PHOTO_CLASSES

from .conftest import screenshot
from .test_dataset_upload import log_in

pytestmark = pytest.mark.e2e

PHOTOS_PER_CLASS = 12
# The files cameras, scanners and print shops make that a plain RGB JPEG reader gets wrong.
SIDEWAYS = "photos/airplanes/sideways.jpg"  # pixels stored on their side, EXIF orientation 6 turns them upright
HUGE = "photos/airplanes/twenty-megapixels.jpg"  # 5472 x 3648, a 20 MP camera's full size
CMYK = "photos/Motorbikes/print-shop-cmyk.jpg"
SIXTEEN_BIT = "photos/watch/scanner-16-bit.png"  # grey, Pillow mode "I;16"
BROKEN = "photos/watch/broken.jpg"  # a JPEG cut off halfway


def varied(photo: Image.Image, index: int) -> Image.Image:
    """Mixed sizes and aspects, as a real folder has: every third photo cropped to portrait, scaled 0.5-1.5x."""
    if index % 3 == 1:
        width = photo.height * 3 // 4
        left = (photo.width - width) // 2
        photo = photo.crop((left, 0, left + width, photo.height))
    scale = (0.5, 1.0, 1.5, 0.75)[index % 4]
    return photo.resize((round(photo.width * scale), round(photo.height * scale)))


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def awkward_photo_zip(path: Path) -> Path:
    """12 Caltech-101 photos of each class, four of them awkward, plus a truncated JPEG."""
    with zipfile.ZipFile(CALTECH) as caltech:
        names = sorted(name for name in caltech.namelist() if name.lower().endswith(".jpg"))
        photos = {label: [Image.open(io.BytesIO(caltech.read(name))).convert("RGB")
                          for name in [name for name in names if f"/{label}/" in name][:PHOTOS_PER_CLASS]]
                  for label in PHOTO_CLASSES}
    files = {}
    for label, images in photos.items():
        for index, photo in enumerate(images[:PHOTOS_PER_CLASS - 2]):
            files[f"photos/{label}/{index:02d}.jpg"] = encoded(varied(photo, index), "JPEG", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to show it upright", as phones write it
    airplane, other_airplane = photos["airplanes"][-2:]
    files[SIDEWAYS] = encoded(airplane.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif.tobytes())
    files[HUGE] = encoded(other_airplane.resize((5472, 3648), Image.Resampling.BICUBIC), "JPEG", quality=85)
    motorbike, other_motorbike = photos["Motorbikes"][-2:]
    files[CMYK] = encoded(motorbike.convert("CMYK"), "JPEG", quality=90)
    files["photos/Motorbikes/last.jpg"] = encoded(other_motorbike, "JPEG", quality=90)
    watch, other_watch = photos["watch"][-2:]
    files[SIXTEEN_BIT] = encoded(Image.fromarray(np.asarray(watch.convert("L"), dtype=np.uint16) * 257), "PNG")
    files["photos/watch/last.jpg"] = encoded(other_watch, "JPEG", quality=90)
    good = encoded(watch, "JPEG", quality=90)
    files[BROKEN] = good[:len(good) // 2]
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def engine_labels(genotype: dict, weights: Path, result: dict, images: list[Path]) -> list[str]:
    """What the engine's own network, rebuilt from the downloaded genotype and weights, says about each image."""
    class_names = [row["name"] for row in result["test_report"]["per_class"]]
    input_shape = tuple(result["summary"]["input_shape"])  # (C, H, W)
    channels, side, _ = input_shape
    model = deployed(build(genotype, input_shape, len(class_names)), genotype).eval()
    model.network.load_state_dict(torch.load(weights, weights_only=True))
    pixels = np.stack([preprocess_image(open_image(image), side, channels) for image in images])  # (N, C, H, W)
    with torch.no_grad():
        return [class_names[index] for index in model(torch.from_numpy(pixels).float()).argmax(1).tolist()]


def test_photos_from_cameras_scanners_and_print_shops_train_and_classify_alike_everywhere(app_server, page,
                                                                                           tmp_path):
    if not CALTECH.exists():
        pytest.skip(f"needs the shared photo datasets ({CALTECH})")
    url = app_server["url"]
    archive = awkward_photo_zip(tmp_path / "photos.zip")
    log_in(page, url, "demo", app_server["demo_password"])

    page.goto(url + "/datasets/new/")
    page.set_input_files("#archive-input", str(archive))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="What NASweb found")).to_be_visible(timeout=90_000)
    expect(page.locator('[data-code="corrupt_files"] li')).to_contain_text("broken.jpg: truncated or corrupt")
    expect(page.locator(".stat__value").first).to_have_text(str(3 * PHOTOS_PER_CLASS))  # every awkward one read
    screenshot(page, "photo-dataset")

    page.get_by_role("link", name="Train a model on this").click()
    page.get_by_text("Custom", exact=True).first.click()
    page.get_by_label("Custom minutes").fill("1")
    page.get_by_text("Advanced").click()
    expect(page.get_by_label("Image size")).to_have_value("")  # as prepared: 224 px, not the smallest offered
    page.get_by_role("button", name="Start the search").click()
    expect(page.locator("#result-words")).to_contain_text("times out of 100", timeout=180_000)
    run_id = page.url.rstrip("/").split("/")[-1]
    result = page.request.get(f"{url}/api/runs/{run_id}/result/").json()
    assert result["summary"]["input_shape"] == [3, 224, 224]
    genotype = result["best"]["genotype"]
    assert "backbone" in genotype, genotype  # ImageNet knows airplanes, motorbikes and watches
    expect(page.locator("#architecture-words")).to_contain_text(BACKBONE_NAMES[genotype["backbone"]])
    screenshot(page, "photo-run-result")

    with zipfile.ZipFile(archive) as photos:
        photos.extractall(tmp_path)
    chosen = [tmp_path / name for name in (SIDEWAYS, CMYK, SIXTEEN_BIT)]
    weights = tmp_path / "weights.pt"
    weights.write_bytes(page.request.get(f"{url}/api/runs/{run_id}/artifacts/weights/").body())
    expected = engine_labels(genotype, weights, result, chosen)

    with page.expect_download() as download:
        page.get_by_role("link", name="Ready-to-run bundle (.zip)").click()
    download.value.save_as(tmp_path / "bundle.zip")
    with zipfile.ZipFile(tmp_path / "bundle.zip") as bundle:
        bundle.extractall(tmp_path / "bundle")
    printed = subprocess.run([sys.executable, "predict.py", *map(str, chosen)], cwd=tmp_path / "bundle",
                             capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr
    assert [line.split("\t")[1] for line in printed.stdout.strip().splitlines()] == expected

    token = requests.post(f"{url}/api/auth/token/", data={"username": "demo", "password": app_server["demo_password"],
                                                           "name": "photo journey"}, timeout=30).json()["token"]
    for image, label in zip(chosen, expected, strict=True):
        with open(image, "rb") as file:
            answer = requests.post(f"{url}/api/runs/{run_id}/predict/", files={"image": file},
                                   headers={"Authorization": f"Token {token}"}, timeout=60)
        assert answer.json()["predictions"][0]["label"] == label, (image.name, answer.text)

        page.locator("#try-result").evaluate("list => list.replaceChildren()")  # so the answer awaited is this one
        page.set_input_files("#try-image", str(image))  # choosing it classifies it
        expect(page.locator("#try-result li .predictions__label").first).to_have_text(label)
    screenshot(page, "photo-try-it")
