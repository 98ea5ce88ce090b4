"""Trainer speed: the engine's trainer vs the tutorial pipeline, same network, same data, side by side.

    .venv/bin/python -m benchmarks.trainer_speed --data mnist5k --workers 0 1 2 --threads 1 2

(a) tutorial: torchvision ImageFolder over the PNG folder + DataLoader(shuffle, num_workers) + per-sample
    transforms (Grayscale, Resize, RandomAffine, ToTensor, Normalize to 0..255), then the usual training loop.
(b) engine: apps.nas.data.load_image_folder once (its time is reported), then apps.nas.train.Trainer: the
    dataset is one uint8 tensor, each batch is gathered by index and augmented in one grid_sample call.
Both train the same network with the same recipe (SGD-Nesterov, one-cycle LR, label smoothing), batch size
and augmentation strength; images/second is measured over one full epoch after a warm-up.

The data path alone (no model) compares producing augmented float batches three ways: ImageFolder + DataLoader
(decodes PNGs every epoch), an in-memory per-sample Dataset + DataLoader (no decoding; per-sample transforms
and collation only), and the engine's preloaded tensor + batched augmentation.

Each pipeline is measured at every torch thread count in --threads (and the tutorial at every DataLoader worker
count in --workers), and its best is compared with the other's best: what each gets out of the whole CPU. The
tutorial's loader workers need cores of their own; the engine has none, so its training can use them. Run it on a
quiet machine: on a busy one, two threads per process collapse to a tenth of their speed. Prints markdown tables;
goals: training >= 2x the tutorial's images/second, data path >= 10x.
"""

import argparse
import time
from functools import partial

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, transforms

from apps.nas.build import build
from apps.nas.data import load_image_folder
from apps.nas.space import baseline_genotype, with_epochs
from apps.nas.train import (
    MAX_ROTATION_DEGREES,
    MAX_SHIFT_FRACTION,
    MAX_ZOOM,
    Trainer,
    augment_batch,
    cpu_has_fast_bf16,
    one_cycle_lr,
)
from benchmarks.datasets import digits_folder, mnist5k_folder

DATASETS = {"digits": digits_folder, "mnist5k": mnist5k_folder}
WARMUP_BATCHES = 5


def small_genotype() -> dict:
    """A light network of the kind a search tries early: depthwise-separable stages, 16-48 channels."""
    genotype = baseline_genotype()
    genotype["stem_width"] = 16
    genotype["stages"] = [{"block": "dwsep", "depth": 1, "width": width, "kernel": 3, "se": False, "expand": 1}
                          for width in (24, 48)]
    return genotype


NETWORKS = {"baseline": baseline_genotype, "small": small_genotype}


def tutorial_transform(side: int, channels: int, strength: float) -> transforms.Compose:
    """The per-sample transforms a tutorial writes, with the engine's augmentation limits."""
    return transforms.Compose([
        transforms.Grayscale(num_output_channels=channels) if channels == 1 else transforms.Lambda(
            lambda image: image.convert("RGB")),
        transforms.Resize((side, side)),
        transforms.RandomAffine(degrees=MAX_ROTATION_DEGREES * strength,
                                translate=(MAX_SHIFT_FRACTION * strength,) * 2,
                                scale=(1 - MAX_ZOOM * strength, 1 + MAX_ZOOM * strength)),
        transforms.ToTensor(),
        transforms.Normalize((0.0,) * channels, (1 / 255,) * channels),  # back to 0..255, what the network expects
    ])


class InMemoryDataset(Dataset):
    """The usual per-sample Dataset over preloaded tensors: one image, one transform, per __getitem__."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, strength: float):
        self.images, self.labels = images, labels
        self.augment = transforms.RandomAffine(degrees=MAX_ROTATION_DEGREES * strength,
                                               translate=(MAX_SHIFT_FRACTION * strength,) * 2,
                                               scale=(1 - MAX_ZOOM * strength, 1 + MAX_ZOOM * strength))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.augment(self.images[index]).float(), self.labels[index]


def measure_loader(loader: DataLoader, step=None) -> float:
    """Images per second over one epoch of `loader`, after WARMUP_BATCHES batches; step(images, labels) trains."""
    seen, start = 0, None
    for batch_index, (images, labels) in enumerate(loader):
        if step is not None:
            step(images, labels)
        if batch_index == WARMUP_BATCHES - 1:
            start = time.perf_counter()
        elif batch_index >= WARMUP_BATCHES:
            seen += len(labels)
    return seen / (time.perf_counter() - start)


def tutorial_training(root, genotype: dict, side: int, channels: int, workers: int) -> float:
    """Images/second of a plain PyTorch training loop fed by ImageFolder + DataLoader."""
    hyper = genotype["train"]
    folder = datasets.ImageFolder(root, transform=tutorial_transform(side, channels, hyper["augment"]))
    loader = DataLoader(folder, batch_size=hyper["batch_size"], shuffle=True, num_workers=workers, drop_last=True,
                        persistent_workers=False)
    torch.manual_seed(0)
    model = build(genotype, (channels, side, side), len(folder.classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=hyper["lr"], momentum=0.9, nesterov=True,
                                weight_decay=hyper["weight_decay"])
    loss_fn = nn.CrossEntropyLoss(label_smoothing=hyper["label_smoothing"])
    total_steps, steps = len(loader), iter(range(1_000_000))

    def step(images, labels):
        for group in optimizer.param_groups:
            group["lr"] = one_cycle_lr(next(steps), total_steps, hyper["lr"])
        loss = loss_fn(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.train()
    return measure_loader(loader, step)


def engine_training(dataset, genotype: dict) -> float:
    """Images/second of the engine's Trainer (second epoch: the first includes one-time warm-up)."""
    trainer = Trainer(with_epochs(genotype, 2), dataset, None, device="cpu", seed=0)
    trainer.run_epoch()
    return trainer.run_epoch().images_per_second


def engine_data_path(dataset, batch_size: int, strength: float) -> float:
    """Augmented float batches per second from the preloaded uint8 tensor (what Trainer does before the model)."""
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(dataset), generator=generator)
    start, seen = time.perf_counter(), 0
    for first in range(0, len(dataset) - batch_size + 1, batch_size):
        index = order[first:first + batch_size]
        batch = augment_batch(dataset.images[index].float(), strength, False, generator), dataset.labels[index]
        seen += len(batch[1])
    return seen / (time.perf_counter() - start)


def best_over_threads(thread_counts: list[int], measure) -> dict[int, float]:
    """measure() at each torch thread count: {threads: images/second}."""
    rates = {}
    for threads in thread_counts:
        torch.set_num_threads(threads)
        rates[threads] = measure()
    return rates


def describe(rates: dict) -> str:
    return ", ".join(f"{rate:,.0f} ({setting})" for setting, rate in rates.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=sorted(DATASETS), default="mnist5k")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2],
                        help="DataLoader worker counts to try for the tutorial")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch intra-op thread counts to try for both pipelines")
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORKS), default=["small", "baseline"])
    args = parser.parse_args()
    root = DATASETS[args.data]()
    start = time.perf_counter()
    dataset = load_image_folder(root)
    load_seconds = time.perf_counter() - start
    channels, side, _ = dataset.input_shape
    print(f"{args.data}: {len(dataset)} images at {channels}x{side}x{side}, loaded into memory once in "
          f"{load_seconds:.2f} s; bf16 on this CPU: {cpu_has_fast_bf16()}\n")

    print("| network | params | tutorial img/s (threads/workers) | engine img/s (threads) | speed-up, best vs best |")
    print("|---|---|---|---|---|")
    for name in args.networks:
        genotype = NETWORKS[name]()
        params = sum(p.numel() for p in build(genotype, dataset.input_shape, dataset.num_classes).parameters())
        tutorial = {f"{threads}/{workers}": rate for workers in args.workers
                    for threads, rate in best_over_threads(
                        args.threads, partial(tutorial_training, root, genotype, side, channels, workers)).items()}
        engine = best_over_threads(args.threads, partial(engine_training, dataset, genotype))
        print(f"| {name} | {params:,} | {describe(tutorial)} | {describe(engine)} | "
              f"{max(engine.values()) / max(tutorial.values()):.1f}x |", flush=True)

    hyper = baseline_genotype()["train"]
    batch_size, strength = hyper["batch_size"], hyper["augment"]
    folder = datasets.ImageFolder(root, transform=tutorial_transform(side, channels, strength))
    in_memory = InMemoryDataset(dataset.images, dataset.labels, strength)
    engine = best_over_threads(args.threads, partial(engine_data_path, dataset, batch_size, strength))
    best_engine = max(engine.values())
    print(f"\nData path alone (batch {batch_size}, augment {strength}; the engine at threads {describe(engine)}):\n")
    print("| pipeline | workers | img/s | engine speed-up |")
    print("|---|---|---|---|")
    for label, source in (("ImageFolder + DataLoader (decode per sample)", folder),
                          ("in-memory per-sample Dataset + DataLoader", in_memory)):
        for workers in args.workers:
            loader = DataLoader(source, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True)
            rate = max(best_over_threads(args.threads, partial(measure_loader, loader)).values())
            print(f"| {label} | {workers} | {rate:,.0f} | {best_engine / rate:.1f}x |", flush=True)
    print(f"| engine: preloaded uint8 tensor + batched augment | - | {best_engine:,.0f} | 1.0x |")


if __name__ == "__main__":
    main()
