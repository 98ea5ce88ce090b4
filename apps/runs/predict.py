"""Top-k predictions of a finished run's exported ONNX model, for the try-it box and the predict API."""

import functools

import numpy as np
import onnxruntime
from django.core.files.storage import default_storage

from apps.accounts.errors import DomainError
from apps.datasets.images import ImageProblem, open_image
from apps.nas.preprocess import preprocess_image

from .models import Run


class PredictionError(DomainError):
    """The image cannot be classified; the message says why."""

    field = "image"


@functools.lru_cache(maxsize=8)
def onnx_session(path: str) -> onnxruntime.InferenceSession:
    with default_storage.open(path, "rb") as model:
        return onnxruntime.InferenceSession(model.read(), providers=["CPUExecutionProvider"])


def run_predict(*, run: Run, image_file, top: int = 3) -> list[dict]:
    """The `top` most likely classes of one image, with their confidence (0..1)."""
    if "onnx" not in run.artifacts:
        raise PredictionError("This run has no model yet.")
    try:
        image = open_image(image_file)  # decoded as ingestion decodes, oriented by EXIF as the training copy was
    except ImageProblem as problem:
        raise PredictionError(f"This file cannot be classified: {problem}.") from problem
    class_names = [row["name"] for row in run.result["test_report"]["per_class"]]
    session = onnx_session(run.artifacts["onnx"])
    model_input = session.get_inputs()[0]
    channels, side = model_input.shape[1], model_input.shape[2]  # (B, C, H, W)
    pixels = preprocess_image(image, side=side, channels=channels)  # (C, H, W) uint8
    logits = session.run(None, {model_input.name: pixels[None].astype(np.float32)})[0][0]
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    order = np.argsort(-probabilities)[:top]
    return [{"label": class_names[i], "confidence": round(float(probabilities[i]), 4)} for i in order]
