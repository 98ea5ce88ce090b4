"""Which GPU a worker process trains on: on a host with several, each worker claims one that no other worker there
holds (NASWEB_GPU_SLOTS workers may share one large GPU), so that `compose up --scale worker=N` spreads them.

A claim is an exclusive flock on a file named after the GPU's UUID, held for the life of the process: the kernel
releases it when the process dies, however it dies. The files sit in the runs folder, which workers on one host
share (in compose, a volume).
"""

import fcntl
from pathlib import Path
from typing import IO

import torch
from django.conf import settings

_claims: list[IO] = []  # open claim files: closing one would release its GPU
_device: str | None = None


def worker_device() -> str:
    """The device this worker process trains on, chosen once: NASWEB_DEVICE as set ("cpu", "cuda:1", ...), or, for
    "auto" and "cuda" on a machine with GPUs, one claimed for this process."""
    global _device
    if _device is None:
        _device = device_claimed(settings.NASWEB_DEVICE)
    return _device


def device_claimed(device: str) -> str:
    if device not in ("auto", "cuda") or not torch.cuda.is_available():
        return device
    names = [str(torch.cuda.get_device_properties(index).uuid) for index in range(torch.cuda.device_count())]
    index = first_free(names, Path(settings.NASWEB_RUNS_DIR) / ".gpu-claims", settings.NASWEB_GPU_SLOTS)
    # More workers than GPU slots: the surplus ones share the first GPU rather than not work.
    return f"cuda:{index or 0}"


def first_free(names: list[str], claims_dir: Path, slots: int) -> int | None:
    """Claim the first of `names` (GPUs) with a slot no other process holds, filling every GPU's first slot before
    any second one; its index, or None when all are taken."""
    claims_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(slots):
        for index, name in enumerate(names):
            claim = open(claims_dir / f"{name}.{slot}.lock", "a")  # noqa: SIM115 (held open on purpose)
            try:
                fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                claim.close()
                continue
            _claims.append(claim)
            return index
    return None
