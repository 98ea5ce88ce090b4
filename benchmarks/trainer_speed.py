"""Trainer speed: the engine's trainer vs the tutorial pipeline, same network, same data, side by side.

    .venv/bin/python -m benchmarks.trainer_speed --data mnist5k --workers 1 2 --threads 1

(a) tutorial: torchvision ImageFolder over the PNG folder + DataLoader(shuffle, num_workers) + per-sample
    transforms (Grayscale, Resize, RandomAffine, ToTensor, Normalize to 0..255), then the usual training loop.
(b) engine: apps.nas.data.load_image_folder once (its time is reported), then apps.nas.train.Trainer: the
    dataset is one uint8 tensor, each batch is gathered by index and augmented in one grid_sample call.
Both train the same network with the same recipe (SGD-Nesterov, one-cycle LR, label smoothing), batch size
and augmentation strength; images/second is measured over one full epoch after a warm-up.

The data path alone (no model) compares producing augmented float batches three ways: ImageFolder + DataLoader
(decodes PNGs every epoch), an in-memory per-sample Dataset + DataLoader (no decoding; per-sample transforms
and collation only), and the engine's preloaded tensor + batched augmentation.

Both sides use the same number of torch threads (--threads; 1 by default: on a busy 2-core machine two OpenMP
threads per process collapse to a tenth of their speed). Prints markdown tables; goals: training >= 2x the
tutorial's images/second, data path >= 10x.
"""

import argparse
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets, transforms

from apps.nas.build import build
from apps.nas.data import load_image_folder
from apps.nas.space import baseline_genotype, with_epochs
from apps.nas.train import MAX_ROTATION_DEGREES, MAX_SHIFT_FRACTION, MAX_ZOOM, Trainer, augment_batch, one_cycle_lr
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


def engine_training(dataset, genotype: dict, bf16: bool = True) -> float:
    """Images/second of the engine's Trainer (second epoch: the first includes one-time warm-up)."""
    trainer = Trainer(with_epochs(genotype, 2), dataset, None, device="cpu", seed=0)
    trainer.use_bf16 &= bf16  # bf16=False isolates what the data path and channels_last alone give
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=sorted(DATASETS), default="mnist5k")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="DataLoader worker counts to try for the tutorial; the speed-up is against its best")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both pipelines")
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORKS), default=["small", "baseline"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = DATASETS[args.data]()
    start = time.perf_counter()
    dataset = load_image_folder(root)
    load_seconds = time.perf_counter() - start
    channels, side, _ = dataset.input_shape
    print(f"{args.data}: {len(dataset)} images at {channels}x{side}x{side}, loaded into memory once in "
          f"{load_seconds:.2f} s; torch threads {torch.get_num_threads()}\n")

    print("| network | params | tutorial img/s (by workers) | engine img/s (bf16 where used) | speed-up "
          "| engine fp32 only | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for name in args.networks:
        genotype = NETWORKS[name]()
        params = sum(p.numel() for p in build(genotype, dataset.input_shape, dataset.num_classes).parameters())
        tutorial = {workers: tutorial_training(root, genotype, side, channels, workers) for workers in args.workers}
        best = max(tutorial.values())
        engine = engine_training(dataset, genotype)
        engine_fp32 = engine_training(dataset, genotype, bf16=False)
        rates = ", ".join(f"{rate:,.0f} ({workers})" for workers, rate in tutorial.items())
        print(f"| {name} | {params:,} | {rates} | {engine:,.0f} | {engine / best:.1f}x | "
              f"{engine_fp32:,.0f} | {engine_fp32 / best:.1f}x |", flush=True)

    hyper = baseline_genotype()["train"]
    batch_size, strength = hyper["batch_size"], hyper["augment"]
    folder = datasets.ImageFolder(root, transform=tutorial_transform(side, channels, strength))
    in_memory = InMemoryDataset(dataset.images, dataset.labels, strength)
    engine = engine_data_path(dataset, batch_size, strength)
    print(f"\nData path alone (batch {batch_size}, augment {strength}):\n")
    print("| pipeline | workers | img/s | engine speed-up |")
    print("|---|---|---|---|")
    for label, source in (("ImageFolder + DataLoader (decode per sample)", folder),
                          ("in-memory per-sample Dataset + DataLoader", in_memory)):
        for workers in sorted({0, *args.workers}):
            loader = DataLoader(source, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True)
            rate = measure_loader(loader)
            print(f"| {label} | {workers} | {rate:,.0f} | {engine / rate:.1f}x |", flush=True)
    print(f"| engine: preloaded uint8 tensor + batched augment | - | {engine:,.0f} | 1.0x |")


if __name__ == "__main__":
    main()
