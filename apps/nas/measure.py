"""What a candidate costs to deploy: parameters, FLOPs, CPU latency, file size."""

import copy
import functools
import io
import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from apps.nas.build import deployed, pretrained_backbone

# Latency is measured on one CPU thread: the figure then means "one core of this machine", it is not disturbed by
# a training run using the other cores, and it is what a small deployment (one request per worker) sees.
LATENCY_THREADS = 1
LATENCY_WARMUP_RUNS = 3
LATENCY_MAX_RUNS = 25
# Stop repeating after this long: a big model still costs only tens of milliseconds to measure.
LATENCY_TIME_LIMIT_S = 0.05


def count_params(model: nn.Module) -> int:
    """Number of trainable and frozen parameters."""
    return sum(parameter.numel() for parameter in model.parameters())


def count_flops(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Floating-point operations for one image (a multiply-add counts as 2), as torch's FlopCounterMode counts.

    Args:
        model: the network (left unchanged).
        input_shape: (C, H, W).
    """
    probe = copy.deepcopy(model).cpu().float().eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        probe(torch.zeros(1, *input_shape))
    return int(counter.get_total_flops())


def cpu_latency_ms(model: nn.Module, input_shape: tuple[int, int, int]) -> float:
    """Median milliseconds for one image (batch 1) on the CPU with LATENCY_THREADS thread(s), fp32, eval mode.

    Args:
        model: the network (a copy is measured; the original stays where it is).
        input_shape: (C, H, W).
    """
    probe = copy.deepcopy(model).cpu().float().eval()
    image = torch.rand(1, *input_shape) * 255
    threads = torch.get_num_threads()
    torch.set_num_threads(LATENCY_THREADS)
    try:
        with torch.inference_mode():
            for _ in range(LATENCY_WARMUP_RUNS):
                probe(image)
            timings: list[float] = []
            deadline = time.perf_counter() + LATENCY_TIME_LIMIT_S
            while len(timings) < LATENCY_MAX_RUNS and (len(timings) < 5 or time.perf_counter() < deadline):
                start = time.perf_counter()
                probe(image)
                timings.append((time.perf_counter() - start) * 1000)
    finally:
        torch.set_num_threads(threads)
    return statistics.median(timings)


def deployment_costs(network: nn.Module, genotype: dict, input_shape: tuple[int, int, int]) -> dict:
    """Parameters, FLOPs, CPU latency and file size of the network as it is exported (test-time flips included).

    Args:
        network: the classifier from apps.nas.build.build (left unchanged).
        genotype: its genotype (its flip setting doubles the forward passes of the shipped model).
        input_shape: (C, H, W).
    """
    shipped = deployed(network, genotype)
    return {"params": count_params(network), "flops": count_flops(shipped, input_shape),
            "latency_ms": cpu_latency_ms(shipped, input_shape), "size_mb": model_size_mb(network)}


def model_size_mb(model: nn.Module) -> float:
    """Size of the fp32 state dict as torch.save writes it, in MB (10^6 bytes)."""
    state = {name: tensor.detach().float() if tensor.is_floating_point() else tensor
             for name, tensor in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell() / 1e6


@functools.cache
def backbone_costs(name: str) -> dict:
    """Parameters and file size of a pretrained backbone alone: what any candidate built on it costs at least."""
    network = pretrained_backbone(name)
    return {"params": count_params(network), "size_mb": model_size_mb(network)}
