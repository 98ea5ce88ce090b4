"""Zero-cost proxies: how well a from-scratch candidate will train, guessed from its untrained network in a
fraction of a second.

naswot (Mellor et al. 2021, "Neural Architecture Search without Training"): one minibatch goes through the
freshly initialised network; at every activation each image leaves a binary code (which units are on). Images
with similar codes are hard for the network to tell apart, so the score is the log-determinant of the kernel
K[i, j] = number of units on which images i and j agree; a network that maps many images to the same codes
gets a (nearly) singular kernel and a low score.

synflow (Tanaka et al. 2020, "Pruning neural networks without any data by iteratively conserving synaptic
flow"): with every weight replaced by its absolute value and an input of ones, the sum over parameters of
weight * d(output sum)/d(weight). It needs no data; its log is taken because it grows exponentially with depth.

Non-ReLU activations (silu, gelu, hardswish): naswot reads the sign of each activation's input, as forward hooks
on the activation modules see it. All four are near zero for negative inputs and near the identity for positive
ones, so the sign is where each of them is "on", as it is for ReLU. Squeeze-excitation's inner ReLU and sigmoid
gate are functions, not modules, and are not read: they rescale channels rather than switch units.

Only networks from scratch are scored: a pretrained candidate's ImageNet weights are not an initialisation these
proxies were designed for, and it costs a forward pass of a large backbone.

No strategy uses them: on benchmarks/zero_cost.py's figures (docs/benchmarks.md) neither ranks random candidates
of the space better than their parameter count does; the candidates' training hyperparameters, which the proxies
do not see, decided more than their architecture.
"""

import math

import torch
from torch import nn

from apps.nas.blocks import ACTIVATIONS
from apps.nas.build import build, is_pretrained

NASWOT_BATCH = 64
ACTIVATION_TYPES = tuple(ACTIVATIONS.values())


def naswot(model: nn.Module, images: torch.Tensor) -> float:
    """log |K| of the activation-code kernel over a batch (higher: the network tells the images apart better).

    -inf when the kernel is singular (two images share every code, or units never switch).

    Args:
        model: an untrained network; it runs in training mode (batch-norm uses the batch's statistics, as at the
            first training step), so its batch-norm running statistics change.
        images: float (B, C, H, W) as the network takes them (raw pixels 0..255).
    """
    batch = len(images)
    kernel = torch.zeros(batch, batch, dtype=torch.float64)

    def add_codes(module, inputs, output):
        codes = (inputs[0].detach().reshape(batch, -1) > 0).double()  # (B, units)
        # Agreements: both on plus both off.
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

    hooks = [module.register_forward_hook(add_codes) for module in model.modules()
             if isinstance(module, ACTIVATION_TYPES)]
    try:
        model.train()
        with torch.no_grad():
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
    sign, log_determinant = torch.linalg.slogdet(kernel)
    return float(log_determinant) if sign > 0 else -math.inf


def synflow(model: nn.Module, images: torch.Tensor) -> float:
    """log of the synaptic flow through the network with absolute weights (higher: more signal gets through).

    -inf when no signal reaches the output. The model is changed in place (absolute weights, float64, eval mode):
    pass one built for scoring only.

    Args:
        model: an untrained network.
        images: (B, C, H, W): only their shape is used, synflow needs no data.
    """
    model.double().eval()  # eval: batch norm at its initial running statistics, close to the identity
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.abs_()
    model.zero_grad()
    # 255 is the pixel value the network's own normalisation maps to 1.0.
    model(torch.full((1, *images.shape[1:]), 255.0, dtype=torch.float64)).sum().backward()
    flow = sum(float((parameter * parameter.grad).sum().detach()) for parameter in model.parameters()
               if parameter.grad is not None)
    return math.log(flow) if flow > 0 else -math.inf


PROXIES = {"naswot": naswot, "synflow": synflow}


def score_genotype(genotype: dict, images: torch.Tensor, num_classes: int, *, proxy: str = "naswot",
                   seed: int = 0) -> float:
    """The proxy's score of a from-scratch genotype's network, initialised with `seed` (higher: predicted better).

    Leaves torch's global random state as it found it.

    Args:
        genotype: a genotype without a "backbone" key (see apps.nas.space).
        images: uint8 or float (B, C, H, W) raw pixels: the minibatch naswot reads (synflow uses its shape only).
        num_classes: the dataset's number of classes.
        proxy: a key of PROXIES.
        seed: the initialisation's seed.
    """
    if is_pretrained(genotype):
        raise ValueError("Zero-cost proxies score networks from scratch only, not pretrained backbones.")
    if proxy not in PROXIES:
        raise ValueError(f"Unknown zero-cost proxy {proxy!r}; choose one of: {', '.join(PROXIES)}.")
    # Forked: the build draws the initial weights and naswot's forward pass in training mode draws dropout.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(genotype, tuple(images.shape[1:]), num_classes)
        return PROXIES[proxy](model, images.float())


def scoring_batch(images: torch.Tensor, seed: int, size: int = NASWOT_BATCH) -> torch.Tensor:
    """`size` images drawn without replacement with `seed` (all of them when there are fewer): naswot's minibatch."""
    generator = torch.Generator().manual_seed(seed)
    return images[torch.randperm(len(images), generator=generator)[:size]]
