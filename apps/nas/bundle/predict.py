"""Classify images with the model in this bundle; needs only onnxruntime, numpy and Pillow.

    pip install onnxruntime numpy pillow
    python predict.py IMAGE [IMAGE ...]

Prints one line per image: path<TAB>label<TAB>confidence (softmax probability, 0..1). Images that cannot be
read are reported on stderr, and the exit status is then 1.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent


def preprocess(path: str | Path, side: int, channels: int) -> np.ndarray:
    """The training preprocessing, step for step: float32 (channels, side, side) of raw 0..255 pixel values."""
    with Image.open(path) as image:
        image.seek(0)  # first frame of an animation
        image.load()
        image = ImageOps.exif_transpose(image)
    if image.mode.startswith(("I", "F")):  # 16-bit grey scaled to 8 bits: Pillow's conversion would clip it
        values = np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = values / 257
        image = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")  # transparency goes onto a white background
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    # The centre square, resized: the aspect ratio is kept, as in training.
    image = ImageOps.fit(image.convert("RGB"), (side, side), Image.Resampling.BILINEAR)
    if channels == 1:
        image = image.convert("L")
    pixels = np.asarray(image, dtype=np.float32).reshape(side, side, channels)
    return pixels.transpose(2, 0, 1)


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    labels = json.loads((HERE / "labels.json").read_text())
    spec = json.loads((HERE / "preprocessing.json").read_text())
    session = onnxruntime.InferenceSession(str(HERE / "model.onnx"), providers=["CPUExecutionProvider"])
    failed = False
    for path in paths:
        try:
            batch = preprocess(path, spec["side"], spec["channels"])[None]  # (1, C, H, W)
        except Exception as error:  # report the file and go on with the others
            print(f"{path}\tcannot read image: {error}", file=sys.stderr)
            failed = True
            continue
        logits = session.run(None, {spec["input_name"]: batch})[0][0]
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        best = int(probabilities.argmax())
        print(f"{path}\t{labels[best]}\t{probabilities[best]:.4f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
