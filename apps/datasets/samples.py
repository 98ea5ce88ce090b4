"""The sample dataset: scikit-learn's handwritten digits, packed as an upload would be."""

import io
import zipfile
from pathlib import Path

from PIL import Image
from sklearn.datasets import load_digits

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def digits_archive_ensure(path: Path) -> Path:
    """Write scikit-learn's handwritten digits (1,797 images, 8x8) as a zip of class folders, once.

    The images ship inside the scikit-learn wheel, so the sample needs no download.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    partial = path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, (pixels, label) in enumerate(zip(digits.images, digits.target, strict=True)):
            # The data are 0..16 intensities; stretch them to 0..255 grey levels.
            image = Image.fromarray((pixels * (255 / 16)).astype("uint8"), mode="L")
            png = io.BytesIO()
            image.save(png, format="PNG")
            archive.writestr(f"digits/{DIGIT_NAMES[label]}/{index:04d}.png", png.getvalue())
    partial.replace(path)
    return path
