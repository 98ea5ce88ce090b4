"""Peak memory of decoding the issue's two small uploads that expand to large images (issue 29, finding 6).

    .venv/bin/python -m benchmarks.decode_memory

1. ingestion of a zip of three blank colour images of just under the pixel limit (a few KB on disk);
2. try-it's decoding and preprocessing of a 9000 x 9000 16-bit grey PNG (~180 KB on disk), and of one just under
   the pixel limit.
Each runs in a fresh process (started from a small launcher: Linux carries a peak RSS over fork and exec) and
prints that process's growth of peak RSS (ru_maxrss) over its RSS once the imports are done.
"""

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from apps.datasets.images import MAX_IMAGE_PIXELS

PROBE = """
import json, resource, sys
from pathlib import Path
from apps.datasets.images import ImageProblem, decode_image, flatten
from apps.datasets.ingestion import ingest_archive
from apps.nas.preprocess import open_image, preprocess_image
def rss():
    return int(next(l.split()[1] for l in Path("/proc/self/status").read_text().splitlines()
                    if l.startswith("VmRSS:"))) * 1024
before = rss()
case, path = sys.argv[1], Path(sys.argv[2])
if case == "ingest":
    ingest_archive(path, path.parent / "work", path.parent / "out")
elif case == "engine":
    preprocess_image(open_image(path), side=224, channels=3)
else:
    with open(path, "rb") as upload:
        try:
            preprocess_image(flatten(decode_image(upload)), side=224, channels=3)
        except ImageProblem as problem:
            print("refused:", problem)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before_mb": before / 2**20, "peak_mb": peak / 2**20, "growth_mb": (peak - before) / 2**20}))
"""
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, *sys.argv[1:]]).returncode)"


def measure(case: str, path: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", LAUNCHER, "-c", PROBE, case, str(path)], capture_output=True,
                            text=True, check=True)
    *refusal, figures = result.stdout.splitlines()
    return {**json.loads(figures), **({"outcome": refusal[0]} if refusal else {})}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        side = int(MAX_IMAGE_PIXELS ** 0.5) - 1
        archive = folder / "large.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for index, colour in enumerate(["red", "green", "blue"]):
                Image.new("RGB", (side, side), colour).save(folder / f"{index}.png")
                out.write(folder / f"{index}.png", f"{'ab'[index % 2]}/{index}.png")
        print(f"zip of three {side} x {side} images ({archive.stat().st_size / 1024:.1f} KB):",
              measure("ingest", archive))
        deep = folder / "deep.png"
        Image.fromarray(np.full((9000, 9000), 40000, dtype=np.uint16)).save(deep)
        print(f"try-it on a 9000 x 9000 16-bit PNG ({deep.stat().st_size / 1024:.0f} KB):", measure("predict", deep))
        Image.fromarray(np.full((side, side), 40000, dtype=np.uint16)).save(deep)
        print(f"try-it on a {side} x {side} 16-bit PNG ({deep.stat().st_size / 1024:.0f} KB):",
              measure("predict", deep))


if __name__ == "__main__":
    main()
