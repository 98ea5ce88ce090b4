"""Train a SuperNet (apps.nas.supernet): weights on the training split, architecture logits on the validation split.

Each step is a weight step (SGD with momentum, cosine schedule) on a training batch through one path drawn from the
current distribution, then an architecture step (Adam on the logits) on a validation batch through another:
first-order, as in GDAS and ProxylessNAS, since the second-order DARTS gradient doubles the cost for a gain its own
paper calls small.

- The first WARMUP_SHARE of the steps train the weights alone, on uniformly drawn paths: judged on untrained
  weights, the architecture would follow whatever learns fastest at first (the shallow, parameter-poor paths;
  ProxylessNAS and FBNetV2 warm up likewise).
- With a latency limit, the architecture loss adds LATENCY_WEIGHT * max(0, E[latency] / target - 1), where
  E[latency] is the expected latency of the layer slots under the current distribution (differentiable in the
  logits, as in ProxylessNAS and FBNet), from a table of every layer slot's latency measured once on the CPU
  (layer_latency_table), and the target is LATENCY_TARGET_SHARE of the limit: the rest is left for the stem, the
  head and what timing layers alone misses. A hinge, as MnasNet's hard-constraint form, rather than ProxylessNAS's
  linear term: a limit is a constraint, not a price, so a distribution that meets it is judged on accuracy alone.
  (A linear term cannot be made gentle: Adam normalises the logits' gradient, so under a loose limit, on data where
  accuracy differs little between options, it still drove the widths to the narrowest.) The search measures every
  derived candidate as exported and skips one over the limit all the same.
- The phase stops early once the mean normalised entropy of the decisions falls below ENTROPY_STOP: the
  distribution has made up its mind, and further steps only train the winning paths more, which is where the
  rich-get-richer collapse of weight-sharing searches comes from (Zela et al. 2020, "Understanding and Robustifying
  Differentiable Architecture Search").
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from apps.nas import events
from apps.nas.blocks import BLOCKS
from apps.nas.data import ImageDataset
from apps.nas.measure import cpu_latency_ms
from apps.nas.space import SearchSpace
from apps.nas.supernet import SuperNet, normalised_entropy
from apps.nas.train import augment_batch, resized_uint8

# The phase plans this many passes over the training split, within [MIN_STEPS, MAX_STEPS] steps; the time share the
# strategy gives it (apps.nas.strategies.oneshot) usually ends it first on a CPU.
EPOCHS = 30
MIN_STEPS = 60
MAX_STEPS = 3000
BATCH_SIZE = 64
WARMUP_SHARE = 0.2
WEIGHT_LR = 0.05
WEIGHT_MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
AUGMENT = 0.5  # the recipe's strength (apps.nas.space.baseline_genotype)
# Logits move by up to ARCH_LR per step with Adam: a CPU's share of the search time buys about a hundred
# architecture steps (digits at 60 s, the default space: 70-90), enough to separate options by a few nats where the
# gradient agrees from step to step. At 0.01 the distribution there had hardly moved (normalised entropy 0.997).
# betas (0.5, 0.999) as in DARTS: the architecture follows its recent gradients more than Adam's default would.
ARCH_LR = 0.05
ARCH_BETAS = (0.5, 0.999)
# The hard sample does not depend on tau (the argmax of logits + Gumbel noise); tau only scales and sharpens the
# straight-through gradient, which Adam's normalisation mostly cancels, so GDAS's annealing of it buys nothing here.
GUMBEL_TAU = 1.0
LATENCY_TARGET_SHARE = 0.7
LATENCY_WEIGHT = 1.0  # nats of architecture loss per target's worth of expected latency over the target
# Two options at 90/10 have a normalised entropy of 0.47, at 95/5 of 0.29.
ENTROPY_STOP = 0.3
REPORT_EVERY_STEPS = 10
# The phase is re-planned every TIMED_STEPS steps from their time: the first steps of a path pay one-off setup
# (oneDNN picks kernels for each new shape), so a single early timing cut MNIST's phase to 14 steps in 35 s of
# its 95. During the warm-up, a step that also learns the architecture (a second forward pass, a backward pass to
# the logits alone) is reckoned at ARCH_STEP_COST warm-up steps.
TIMED_STEPS = 5
ARCH_STEP_COST = 2.5


@dataclass
class SupernetResult:
    """What the supernet phase learned: the logits of every decision, and how the phase went."""

    logits: dict[str, list[float]]
    steps: int
    planned_steps: int
    seconds: float
    entropy: float
    reason: str
    # Seconds of one warm-up step (a training step of a uniformly drawn path on a batch of BATCH_SIZE): what a
    # training step of an average candidate costs here. None when the phase stopped before it was timed.
    path_step_seconds: float | None = None


def layer_latency_table(supernet: SuperNet, activation: str) -> list[torch.Tensor]:
    """Per stage, a (operations, widths) table of milliseconds: one layer slot as a stride-1 block at that width
    and the stage's resolution, at batch 1 on one CPU thread (apps.nas.measure.cpu_latency_ms). The first layer of a
    stage, strided and fed the previous width, is counted like the others: the table ranks options, it is not a
    forecast of the exported network's latency."""
    tables = []
    for side in supernet.stage_sides:
        table = torch.zeros(len(supernet.operations), len(supernet.widths))
        for i, op in enumerate(supernet.operations):
            for j, width in enumerate(supernet.widths):
                block = BLOCKS[op.block](width, width, stride=1, kernel=op.kernel, se=False, activation=activation,
                                         expand=op.expand)
                table[i, j] = cpu_latency_ms(block, (width, side, side))
        tables.append(table)
    return tables


def planned_steps(train_images: int, batch_size: int) -> int:
    return min(MAX_STEPS, max(MIN_STEPS, EPOCHS * max(1, train_images // batch_size)))


def distribution(supernet: SuperNet) -> list[dict]:
    """Each decision's readable options and their probabilities, for the dashboard."""
    return [{"name": d.name, "label": d.label, "options": list(d.option_labels),
             "probabilities": [round(p, 4) for p in torch.softmax(supernet.logits[d.name].detach(), 0).tolist()]}
            for d in supernet.decisions]


def train_supernet(
    space: SearchSpace,
    train: ImageDataset,
    val: ImageDataset,
    *,
    stem_width: int,
    activation: str,
    device: str,
    seed: int,
    should_stop: Callable[[], bool],
    seconds: float | None = None,
    latency_limit_ms: float | None = None,
    emit: Callable[[events.Event], None] | None = None,
    steps: int | None = None,
) -> SupernetResult:
    """Learn a distribution over the from-scratch architectures of `space` with a weight-sharing supernet.

    Args:
        space: the search space (its pretrained backbones are ignored).
        train: images the weights learn from; val: images the architecture logits learn from.
        stem_width, activation: the fixed parts of every path (see apps.nas.strategies.oneshot).
        device: "cpu", "cuda", ...
        seed: fixes the weights' initialisation, the batches and the sampled paths.
        should_stop: polled before every step (the search is cancelled or out of time).
        seconds: how long the phase may take; the planned steps are cut to what fits once the first steps are timed,
            so the warm-up and the schedules keep their shares. None: no time limit.
        latency_limit_ms: the deployment limit; when set, the architecture loss prefers faster options.
        emit: receives a SupernetProgress every REPORT_EVERY_STEPS steps and at the end.
        steps: the planned length; None plans it from the training split (planned_steps).
    """
    started = time.monotonic()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        supernet = SuperNet(space, train.input_shape, train.num_classes, stem_width=stem_width, activation=activation)
    latency_table = layer_latency_table(supernet, activation) if latency_limit_ms else None
    supernet = supernet.to(device)
    generator = torch.Generator().manual_seed(seed)  # batches and paths
    augment_generator = torch.Generator(device=device).manual_seed(seed)
    train_images = resized_uint8(train.images, supernet.input_side).to(device)
    val_images = resized_uint8(val.images, supernet.input_side).to(device)
    train_labels, val_labels = train.labels.to(device), val.labels.to(device)
    batch_size = min(BATCH_SIZE, len(train))
    planned = steps if steps is not None else planned_steps(len(train), batch_size)
    total = planned
    warmup = round(WARMUP_SHARE * total)
    weight_optimizer = torch.optim.SGD(supernet.weights(), lr=WEIGHT_LR, momentum=WEIGHT_MOMENTUM, nesterov=True,
                                       weight_decay=WEIGHT_DECAY)
    arch_optimizer = torch.optim.Adam(supernet.logits.parameters(), lr=ARCH_LR, betas=ARCH_BETAS)
    loss_fn = nn.CrossEntropyLoss()
    supernet.train()

    def batch(images: torch.Tensor, labels: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randperm(len(labels), generator=generator)[:size].to(device)
        return images[index].float(), labels[index]

    def report(step: int, loss: float | None, reason: str = "") -> None:
        if emit is not None:
            emit(events.SupernetProgress(step=step, total_steps=total, entropy=round(normalised_entropy(
                supernet.logits), 4), decisions=distribution(supernet),
                train_loss=None if loss is None else round(loss, 4), finished=bool(reason), reason=reason))

    phase_end = math.inf if seconds is None else started + seconds
    step, loss_value, reason, path_step_seconds = 0, None, "", None
    while step < total:
        if should_stop() or time.monotonic() >= phase_end:
            reason = "its share of the search time is over"
            break
        now = time.monotonic()
        if step == 1:  # timing starts after the first step's one-off setup
            window_started = now
        if step > 1 and step % TIMED_STEPS == 1:  # re-plan to what fits, from the last TIMED_STEPS steps
            window_step_seconds = (now - window_started) / TIMED_STEPS
            window_started = now
            warming_up = step <= warmup
            if warming_up:
                path_step_seconds = window_step_seconds
            if seconds is not None:
                step_seconds = window_step_seconds * (ARCH_STEP_COST if warming_up else 1.0)
                total = max(step + 1, min(planned, step + int((phase_end - now) / step_seconds)))
                if warming_up:
                    warmup = round(WARMUP_SHARE * total)
        learning_architecture = step >= warmup
        for group in weight_optimizer.param_groups:
            group["lr"] = WEIGHT_LR * 0.5 * (1 + math.cos(math.pi * step / total))
        images, labels = batch(train_images, train_labels, batch_size)
        images = augment_batch(images, AUGMENT, False, augment_generator)
        if learning_architecture:
            path = {name: option.detach() for name, option in supernet.sample_path(generator, GUMBEL_TAU).items()}
        else:
            path = supernet.uniform_path(generator)
        loss = loss_fn(supernet(images, path), labels)
        weight_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        weight_optimizer.step()
        loss_value = loss.item()
        if learning_architecture:
            images, labels = batch(val_images, val_labels, batch_size)
            arch_loss = loss_fn(supernet(images, supernet.sample_path(generator, GUMBEL_TAU)), labels)
            if latency_table is not None:
                target = LATENCY_TARGET_SHARE * latency_limit_ms
                excess = supernet.expected_latency_ms(latency_table) / target - 1
                arch_loss = arch_loss + LATENCY_WEIGHT * excess.clamp_min(0)
            arch_optimizer.zero_grad(set_to_none=True)
            # Gradients for the logits only: autograd then skips the weights' (about a third of the backward pass).
            arch_loss.backward(inputs=list(supernet.logits.values()))
            arch_optimizer.step()
        step += 1
        if learning_architecture and normalised_entropy(supernet.logits) < ENTROPY_STOP:
            reason = "the architecture distribution settled early"
            break
        if step % REPORT_EVERY_STEPS == 0 and step < total:
            report(step, loss_value)
    reason = reason or f"planned {total} steps done"
    report(step, loss_value, reason)
    logits = {name: [float(v) for v in value.detach().cpu()] for name, value in supernet.logits.items()}
    return SupernetResult(logits=logits, steps=step, planned_steps=total, seconds=time.monotonic() - started,
                          entropy=normalised_entropy(supernet.logits), reason=reason,
                          path_step_seconds=path_step_seconds)

