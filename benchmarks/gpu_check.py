"""GPU check: the engine on a CUDA GPU, in one command and at most 5 minutes on an H100-class GPU.

    .venv/bin/python -m benchmarks.gpu_check              # writes its figures into docs/benchmarks.md

1. Trainer throughput, images per second over one epoch after a warm-up one, on CIFAR-sized synthetic data
   (10,000 colour images of 32 x 32 px, 10 classes): the from-scratch recipe, and EfficientNet-Lite0 with its
   last 3 stages fine-tuned at 128 px; each with bf16 autocast on and off, and torch.compile on and off.
2. The share of a training step spent producing its batch (gathering and augmenting it on the GPU).
3. A 60 s search end to end with auto on the GPU: candidates trained, validation and test accuracy, wall time.
4. The tests that need a CUDA GPU (they are skipped elsewhere).
The figures replace the section "GPU check" of docs/benchmarks.md.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from apps.nas.config import SearchConfig
from apps.nas.data import ImageDataset
from apps.nas.search import error_reason, run_search
from apps.nas.space import baseline_genotype, with_epochs
from apps.nas.train import Trainer

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## GPU check"
CUDA_TESTS = ["tests/nas/test_train.py"]
FINETUNE = {"backbone": "lite0", "side": 128, "finetune": 3, "head_hidden": 0,
            "train": {"optimizer": "adamw", "lr": 0.001, "backbone_lr": 0.0001, "weight_decay": 0.01, "dropout": 0.2,
                      "batch_size": 128, "augment": 0.3, "flip": True, "label_smoothing": 0.1, "epochs": 2}}


def synthetic_cifar(images: int = 10_000, classes: int = 10, seed: int = 0) -> ImageDataset:
    """Colour images a network can learn: each class a smooth pattern of its own, shifted and noised per image."""
    generator = torch.Generator().manual_seed(seed)
    patterns = torch.nn.functional.interpolate(torch.rand(classes, 3, 4, 4, generator=generator), size=40,
                                               mode="bicubic", align_corners=False)
    labels = torch.arange(images) % classes
    shifts = torch.randint(0, 9, (images, 2), generator=generator)
    crops = torch.stack([patterns[label, :, y:y + 32, x:x + 32]
                         for label, (y, x) in zip(labels.tolist(), shifts.tolist(), strict=True)])
    noisy = crops + 0.15 * torch.randn(crops.shape, generator=generator)
    pixels = (noisy.clamp(0, 1) * 255).to(torch.uint8)
    return ImageDataset(pixels, labels, [f"class {k}" for k in range(classes)], [""] * images, [])


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def throughput(genotype: dict, data: ImageDataset, *, bf16: bool, compiled: bool, device: str = "cuda") -> dict:
    """Images per second of one epoch after a warm-up epoch, and the share of it spent producing batches."""
    trainer = Trainer(with_epochs(genotype, 2), data, None, device=device, seed=0)
    trainer.use_bf16 = bf16
    if compiled:
        trainer.forward_train = torch.compile(trainer.forward_train)
    trainer.run_epoch()  # warm-up: cuDNN autotuning, compilation
    synchronize(device)
    started = time.perf_counter()
    trainer.run_epoch()
    synchronize(device)  # the epoch's own clock stops before the GPU has finished its queued steps
    epoch = time.perf_counter() - started
    started = time.perf_counter()
    for step in range(trainer.steps_per_epoch):
        index = torch.arange(step * trainer.batch_size, (step + 1) * trainer.batch_size, device=device) % len(data)
        trainer._training_batch(index)
    synchronize(device)
    batches = time.perf_counter() - started
    return {"images_per_second": trainer.steps_per_epoch * trainer.batch_size / epoch, "data_share": batches / epoch}


def search_end_to_end(data: ImageDataset, device: str = "cuda", budget_seconds: float = 60) -> dict:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work_dir:
        result = run_search(SearchConfig(budget_seconds=budget_seconds, device=device), data, work_dir)
    return {"seconds": time.monotonic() - started, "candidates": sum(result.summary.trials.values()),
            "val_accuracy": result.best.val_accuracy, "test_accuracy": result.best.test_accuracy,
            "best": result.best.genotype_summary}


def cuda_tests() -> str:
    # The engine's tests need the engine's dependencies alone: the web tests' conftest (Django) stays out.
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--confcutdir",
                          "tests/nas", *CUDA_TESTS],
                         capture_output=True, text=True)
    return run.stdout.strip().splitlines()[-1] if run.stdout.strip() else f"pytest exited with {run.returncode}"


def report(rows: list[tuple[str, bool, bool, dict]], search: dict, tests: str) -> str:
    device = torch.cuda.get_device_name()
    lines = [HEADING, "", f"`python -m benchmarks.gpu_check` on {device}, torch {torch.__version__}, "
             f"{time.strftime('%Y-%m-%d')}. Synthetic CIFAR-sized data: 10,000 colour images of 32 x 32 px.", "",
             "| network | bf16 | torch.compile | images/s | share of a step producing its batch |",
             "|---|---|---|---|---|"]
    lines += [f"| {name} | {'on' if bf16 else 'off'} | {'on' if compiled else 'off'} | "
              + (f"failed: {figures['failed']} | |" if "failed" in figures else
                 f"{figures['images_per_second']:,.0f} | {100 * figures['data_share']:.1f}% |")
              for name, bf16, compiled, figures in rows]
    lines += ["", f"A 60 s `auto` search on the same data: {search['candidates']} candidates, best "
              f"{search['best']}, validation {100 * search['val_accuracy']:.2f}%, test "
              f"{100 * search['test_accuracy']:.2f}%, {search['seconds']:.0f} s in all.", "",
              f"The tests that need a CUDA GPU ({', '.join(CUDA_TESTS)}): {tests}.", ""]
    return "\n".join(lines)


def write_section(text: str, path: Path = DOCS) -> None:
    """Replace the GPU check's section of the benchmarks document (or add it at the end)."""
    document = path.read_text()
    start = document.find(HEADING)
    if start < 0:
        path.write_text(document.rstrip() + "\n\n" + text)
        return
    end = document.find("\n## ", start + len(HEADING))
    path.write_text(document[:start] + text + (document[end + 1:] if end >= 0 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave docs/benchmarks.md")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("No CUDA GPU here: run this on a machine with one.")
    data = synthetic_cifar()
    rows = []
    for name, genotype in (("from-scratch recipe", baseline_genotype()), ("Lite0, last 3 stages fine-tuned", FINETUNE)):
        for bf16 in (True, False):
            for compiled in (False, True):
                try:
                    figures = throughput(genotype, data, bf16=bf16, compiled=compiled)
                except Exception as error:  # a configuration this GPU or torch cannot run is a finding to record
                    figures = {"failed": error_reason(error).partition("\n")[0][:160]}  # one table cell
                rows.append((name, bf16, compiled, figures))
                print(rows[-1], flush=True)
    search = search_end_to_end(data)
    print(search, flush=True)
    text = report(rows, search, cuda_tests())
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
