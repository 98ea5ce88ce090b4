"""The try-it box and the predict API give the exported model the image as training saw it."""

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.runs import predict
from apps.runs.predict import run_predict

pytestmark = pytest.mark.django_db


class RecordingSession:
    """Stands in for the ONNX model: keeps what it is given, answers the first class."""

    def __init__(self, classes: int) -> None:
        self.classes = classes
        self.inputs: list[np.ndarray] = []

    def get_inputs(self) -> list:
        return [type("Input", (), {"name": "images", "shape": [1, 3, 8, 8]})]

    def run(self, outputs, feeds: dict) -> list[np.ndarray]:
        self.inputs.append(feeds["images"])
        return [np.eye(1, self.classes, dtype=np.float32)]


def upload(image: Image.Image, **options) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return SimpleUploadedFile("photo.png", buffer.getvalue())


def test_a_phone_photo_stored_on_its_side_is_classified_upright(finished_run, monkeypatch):
    session = RecordingSession(classes=len(finished_run.result["test_report"]["per_class"]))
    monkeypatch.setattr(predict, "onnx_session", lambda path: session)
    upright = Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # the pixels lie on their side: turn 90 degrees clockwise to show them upright

    run_predict(run=finished_run, image_file=upload(upright))
    run_predict(run=finished_run, image_file=upload(upright.transpose(Image.Transpose.ROTATE_90), exif=exif))

    assert np.array_equal(session.inputs[0], session.inputs[1])


# Files Pillow would open with decoders ingestion never uses, each cut short after its header: they answered 500.
RARE_FORMATS = {
    "sgi": b"\x01\xda\x01\x01\x00\x02\x00\x40\x00\x40\x00\x03" + bytes(100),
    "qoi": b"qoif\x00\x00\x00\x40\x00\x00\x00\x40\x03\x00" + b"\xff" * 40,
    "ftex": b"FTEX\x00\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x40\x00\x00\x00" + bytes(40),
}


@pytest.mark.parametrize("kind", sorted(RARE_FORMATS))
def test_try_it_on_a_corrupt_file_of_a_format_ingestion_refuses_answers_400_in_words(api_client, alice,
                                                                                     finished_run, kind):
    api_client.force_login(alice)

    response = api_client.post(f"/api/runs/{finished_run.pk}/predict/", {
        "image": SimpleUploadedFile(f"photo.{kind}", RARE_FORMATS[kind])}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"image": ["This file cannot be classified: not an image (JPEG, PNG, WebP, BMP and "
                                         "GIF are read)."]}


def test_try_it_on_a_16_bit_png_past_the_pixel_limit_is_refused_from_its_header(finished_run):
    # The 153 KB 9000 x 9000 16-bit PNG took the web process from 1.2 to 3.4 GB.
    huge = Image.fromarray(np.full((9000, 9000), 40000, dtype=np.uint16))

    with pytest.raises(predict.PredictionError, match="too large"):
        run_predict(run=finished_run, image_file=upload(huge))
