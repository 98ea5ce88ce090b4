"""Opening images: every format users send, flattened to grey or colour, and every broken file a clear problem."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apps.datasets.images import (
    MAX_IMAGE_PIXELS,
    ImageProblem,
    average_hash,
    decode_image,
    difference_hash,
    open_image,
)
from apps.nas import preprocess
from tests.datasets.conftest import image_bytes

REPOSITORY = Path(__file__).resolve().parents[2]


def save(tmp_path, name: str, image: Image.Image, **options) -> str:
    path = tmp_path / name
    image.save(path, **options)
    return path


@pytest.mark.parametrize(("fmt", "mode", "expected"), [
    ("PNG", "RGB", "RGB"), ("PNG", "L", "L"), ("JPEG", "RGB", "RGB"), ("JPEG", "L", "L"), ("WEBP", "RGB", "RGB"),
    ("BMP", "RGB", "RGB"), ("GIF", "RGB", "RGB"), ("PNG", "RGBA", "RGB"), ("PNG", "LA", "L"), ("PNG", "P", "RGB"),
    ("PNG", "1", "L"), ("PNG", "I;16", "L"), ("JPEG", "CMYK", "RGB"),
])
def test_every_supported_format_and_mode_opens_as_grey_or_colour(tmp_path, fmt, mode, expected):
    path = tmp_path / f"picture.{fmt.lower()}"
    path.write_bytes(image_bytes((20, 12), mode=mode, fmt=fmt))

    image = open_image(path)

    assert image.mode == expected
    assert image.size == (20, 12)


def test_transparency_is_composited_on_white(tmp_path):
    clear = Image.new("RGBA", (4, 4), (255, 0, 0, 0))

    assert np.asarray(open_image(save(tmp_path, "clear.png", clear))).min() == 255


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    grey = Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16))

    assert np.asarray(open_image(save(tmp_path, "deep.png", grey)))[0, 0] == 128


def test_an_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((0, 0, 0), (255, 255, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])

    assert np.asarray(open_image(path)).max() == 0


def test_exif_rotation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = save(tmp_path, "phone.jpg", Image.new("RGB", (40, 20)), exif=exif.tobytes())

    assert open_image(path).size == (20, 40)


def test_a_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello")

    with pytest.raises(ImageProblem, match="not an image"):
        open_image(path)


def test_a_tiff_is_not_read_even_though_pillow_could(tmp_path):
    with pytest.raises(ImageProblem, match="not an image"):
        open_image(save(tmp_path, "scan.tif", Image.new("RGB", (4, 4))))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP"])
def test_a_truncated_image_is_reported_not_crashed_on(tmp_path, fmt):
    data = image_bytes((64, 64), fmt=fmt)
    path = tmp_path / "cut"
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(ImageProblem):
        open_image(path)


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path):
    side = int(MAX_IMAGE_PIXELS**0.5) + 10
    path = save(tmp_path, "bomb.png", Image.new("1", (side, side)))  # a few KB on disk, 64 Mpx once decoded

    with pytest.raises(ImageProblem, match="decompression bomb"):
        decode_image(path)


def test_hashes_agree_on_a_resized_copy_and_differ_between_pictures():
    generator = np.random.default_rng(0)
    # Smooth random pictures: photos have structure at the hash's scale, pixel noise does not.
    picture, other = (Image.fromarray(generator.integers(0, 256, (6, 6, 3), dtype=np.uint8))
                      .resize((256, 256), Image.Resampling.BICUBIC) for _ in range(2))
    smaller = picture.resize((100, 100))
    buffer = io.BytesIO()
    smaller.save(buffer, "JPEG", quality=70)
    recompressed = Image.open(buffer)

    for hash_of in (average_hash, difference_hash):
        assert bin(hash_of(picture) ^ hash_of(recompressed)).count("1") <= 4
        assert bin(hash_of(picture) ^ hash_of(other)).count("1") > 12
        assert 0 <= hash_of(picture) < 2**64


def test_16_bit_grey_is_scaled_to_8_bits_exactly_as_through_float64():
    values = np.random.default_rng(0).integers(0, 65536, (300, 5000), dtype=np.uint16)

    eight = np.asarray(preprocess.to_eight_bits(Image.fromarray(values)))

    assert np.array_equal(eight, np.clip(np.rint(values / 257), 0, 255).astype(np.uint8))


DECODE_PROBE = """
import json, resource, sys
from pathlib import Path
from apps.datasets.images import open_image
from apps.nas.preprocess import preprocess_image
def rss():
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("VmRSS:"))) * 1024
before = rss()
preprocess_image(open_image(sys.argv[1]), side=224, channels=3)
print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before) / 2**20))
"""
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, *sys.argv[1:]]).returncode)"


def test_a_16_bit_png_just_under_the_pixel_limit_decodes_in_bounded_memory(tmp_path):
    # Through float64 it cost ~26 bytes a pixel (1.3 GB here); now ~7 (measured 342 MB): the decoded image, its
    # EXIF-upright copy, numpy's copy of it and the 8-bit result. The probe runs in a fresh process, started by a
    # launcher: Linux carries a process's peak RSS over fork and exec, and pytest's is large.
    side = int(MAX_IMAGE_PIXELS**0.5) - 1
    path = save(tmp_path, "deep.png", Image.fromarray(np.full((side, side), 40000, dtype=np.uint16)))

    result = subprocess.run([sys.executable, "-c", LAUNCHER, "-c", DECODE_PROBE, str(path)], cwd=REPOSITORY,
                            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": "."})

    assert result.returncode == 0, result.stderr
    growth_mb = json.loads(result.stdout)
    assert growth_mb < 12 * MAX_IMAGE_PIXELS / 2**20, f"{growth_mb:.0f} MB"
