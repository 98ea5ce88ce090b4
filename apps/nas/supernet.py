"""The one-shot supernet: every from-scratch network of a SearchSpace inside one network whose candidates share
weights, with one categorical distribution (logits) per architecture decision.

The skeleton is build.Network's: a stem, then space.max_stages stages where stage i > 0 halves the resolution
(the same MIN_FEATURE_SIDE / MAX_STAGE0_SIDE / MAX_SCRATCH_SIDE rules), raw 0..255 pixels normalised inside. Per
stage there are three kinds of decision:

- the operation: one of the space's block types x kernel sizes (x expansion ratios for mbconv), each a block from
  apps.nas.blocks.BLOCKS with weights of its own in every layer slot;
- the width: every layer slot is built at the space's widest width, and a path of width w runs the first w
  filters of its convolutions (apps.nas.sliced_blocks), so the widths share weights. Not FBNetV2's channel masks
  (Wan et al. 2020), which zero the channels beyond w but still compute them: on a CPU every step would then cost
  the widest network (0.6 s a step on 8 px digits with the default space, against about 0.1 s sliced), and the
  inner channels (an mbconv's expanded layer) would stay at the widest. Sliced, a sampled path computes exactly
  the network the genotype derived from it builds, and costs what that network costs;
- the depth: layer slot 1 always runs, each later slot is "keep or skip" (a stage's depth is 1 + its kept slots).

Left out on purpose: the number of stages (always max_stages: the widths and depths already span small and large
networks, and a missing stage changes every later resolution), squeeze-excitation (it would double the
operations; derived candidates have none), and pretrained backbones (their weights cannot be shared with networks
from scratch; the one-shot search covers the from-scratch part of the space).

A forward pass runs one path (single-path sampling, GDAS: Dong & Yang 2019): `path` holds a one-hot vector per
decision, and only the chosen option is computed, multiplied by its one-hot weight, through which the
straight-through Gumbel-softmax gradient reaches the logits. Memory and time per step are one network's, not the
sum of all options' as in DARTS, which on a 2-core CPU is the difference between a usable and an unusable search.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from apps.nas.blocks import BLOCKS, ConvBNAct, ResidualBlock
from apps.nas.build import MAX_SCRATCH_SIDE, MAX_STAGE0_SIDE, MIN_FEATURE_SIDE, resize_to
from apps.nas.sliced_blocks import sliced_block
from apps.nas.space import SearchSpace


@dataclass(frozen=True)
class Operation:
    """What one layer slot computes: a block type with its kernel size and (mbconv only) expansion ratio."""

    block: str
    kernel: int
    expand: int = 1

    @property
    def label(self) -> str:
        expansion = f" x{self.expand}" if self.block == "mbconv" else ""
        return f"{self.block} {self.kernel}x{self.kernel}{expansion}"


@dataclass(frozen=True)
class Decision:
    """One architecture choice the supernet learns a distribution over."""

    name: str  # "s0_op", "s0_width", "s0_layer2": the key of its logits
    label: str  # what a person reads on the dashboard: "Stage 1: block"
    options: tuple  # Operation, width (int) or whether the layer slot is kept (False, True)
    option_labels: tuple[str, ...]  # "mbconv 5x5 x4", "32", "skip"


def space_operations(space: SearchSpace) -> tuple[Operation, ...]:
    return tuple(Operation(block, kernel, expand)
                 for block in space.block_types
                 for kernel in space.kernel_sizes
                 for expand in (space.expand_ratios if block == "mbconv" else (1,)))


def supernet_decisions(space: SearchSpace) -> list[Decision]:
    """Every decision of the supernet of `space`, stage by stage: operation, width, then each optional layer."""
    operations = space_operations(space)
    decisions = []
    for stage in range(space.max_stages):
        named = f"Stage {stage + 1}"
        decisions += [
            Decision(f"s{stage}_op", f"{named}: block", operations, tuple(op.label for op in operations)),
            Decision(f"s{stage}_width", f"{named}: width", tuple(space.widths), tuple(map(str, space.widths))),
        ]
        decisions += [Decision(f"s{stage}_layer{layer}", f"{named}: layer {layer}", (False, True), ("skip", "keep"))
                      for layer in range(2, space.max_depth + 1)]
    return decisions


def decision_entropy(logits: torch.Tensor) -> float:
    """Entropy / log(options) of one decision's distribution: 1 undecided (uniform), 0 certain or no choice."""
    if len(logits) < 2:
        return 0.0
    p = F.softmax(logits.detach().float(), 0)
    return float(-(p * p.clamp_min(1e-12).log()).sum() / math.log(len(p)))


def normalised_entropy(logits: dict[str, torch.Tensor]) -> float:
    """Mean decision_entropy over the decisions with a choice."""
    values = [decision_entropy(v) for v in logits.values() if len(v) > 1]
    return sum(values) / len(values) if values else 0.0


class SuperStage(nn.Module):
    """max_depth layer slots, each holding every operation at the widest width."""

    def __init__(self, operations: tuple[Operation, ...], widest: int, in_width: int, depth: int, stride: int,
                 activation: str):
        super().__init__()
        self.slots = nn.ModuleList()
        for layer in range(depth):
            slot = nn.ModuleList(BLOCKS[op.block](in_width if layer == 0 else widest, widest,
                                                  stride=stride if layer == 0 else 1, kernel=op.kernel, se=False,
                                                  activation=activation, expand=op.expand)
                                 for op in operations)
            for block in slot if layer == 0 else ():
                # Sliced, a first layer's input and output widths may differ even where the widest ones match (and
                # blocks.shortcut then builds no projection): its residual blocks always get one.
                if isinstance(block, ResidualBlock) and isinstance(block.shortcut, nn.Identity):
                    block.shortcut = ConvBNAct(in_width, widest, 1, stride=stride, activation=None)
            self.slots.append(slot)


class SuperNet(nn.Module):
    """Weights of every from-scratch candidate of a space (shared), and the logits of every decision."""

    def __init__(self, space: SearchSpace, input_shape: tuple[int, int, int], num_classes: int, *,
                 stem_width: int, activation: str):
        super().__init__()
        self.decisions = supernet_decisions(space)
        self.operations = space_operations(space)
        self.widths = tuple(space.widths)
        self.logits = nn.ParameterDict({d.name: nn.Parameter(torch.zeros(len(d.options))) for d in self.decisions})
        channels, height, width = input_shape
        self.input_side = min(height, width, MAX_SCRATCH_SIDE)
        stem_stride = 2 if self.input_side > MAX_STAGE0_SIDE else 1
        side = (self.input_side + stem_stride - 1) // stem_stride
        self.stem = ConvBNAct(channels, stem_width, 3, stride=stem_stride, activation=activation)
        self.stage_sides: list[int] = []  # each stage's output side, for the latency table
        stages, in_width = [], stem_width
        for index in range(space.max_stages):
            stride = 2 if index > 0 and (side + 1) // 2 >= MIN_FEATURE_SIDE else 1
            side = (side + stride - 1) // stride
            self.stage_sides.append(side)
            stages.append(SuperStage(self.operations, max(space.widths), in_width, space.max_depth, stride,
                                     activation))
            in_width = max(space.widths)
        self.stages = nn.ModuleList(stages)
        self.classifier = nn.Linear(in_width, num_classes)

    def weights(self) -> list[nn.Parameter]:
        """The parameters the training split teaches: everything but the logits."""
        logits = {id(p) for p in self.logits.values()}
        return [p for p in self.parameters() if id(p) not in logits]

    def sample_path(self, generator: torch.Generator, tau: float = 1.0) -> dict[str, torch.Tensor]:
        """A one-hot vector per decision, drawn from the logits by the Gumbel-max trick; its gradient is the
        straight-through one of the Gumbel-softmax (the soft sample's), so loss.backward() reaches the logits."""
        path = {}
        for name, logits in self.logits.items():
            uniform = torch.rand(len(logits), generator=generator).clamp(1e-10, 1 - 1e-10).to(logits.device)
            soft = F.softmax((logits - (-uniform.log()).log()) / tau, 0)
            hard = F.one_hot(soft.argmax(), len(logits)).to(soft.dtype)
            path[name] = hard - soft.detach() + soft
        return path

    def uniform_path(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """A one-hot vector per decision drawn uniformly, whatever the logits (no gradient)."""
        return {name: F.one_hot(torch.randint(len(logits), (), generator=generator), len(logits)).float()
                .to(logits.device) for name, logits in self.logits.items()}

    def forward(self, x: torch.Tensor, path: dict[str, torch.Tensor]) -> torch.Tensor:
        # x: raw pixel values 0..255 (B, C, H, W); only the options `path` chose are computed, each multiplied by
        # its one-hot weight (1 forward, the straight-through gradient backward).
        x = resize_to(x, self.input_side) * (2.0 / 255.0) - 1.0
        x = self.stem(x)
        for index, stage in enumerate(self.stages):
            op_weights, width_weights = path[f"s{index}_op"], path[f"s{index}_width"]
            op, width = int(op_weights.argmax()), int(width_weights.argmax())
            for layer, slot in enumerate(stage.slots):
                keep = path.get(f"s{index}_layer{layer + 1}")  # None for the first layer, which always runs
                if keep is not None and keep[1] < 0.5:
                    x = x * keep[0]  # skipped: the slot's input goes on unchanged
                    continue
                x = sliced_block(slot[op], x, self.widths[width]) * op_weights[op] * width_weights[width]
                if keep is not None:
                    x = x * keep[1]
        pooled = x.mean((2, 3))  # (B, width of the last stage)
        return F.linear(pooled, self.classifier.weight[:, :pooled.shape[1]], self.classifier.bias)

    def expected_latency_ms(self, layer_latency_ms: list[torch.Tensor]) -> torch.Tensor:
        """Expected milliseconds of the layer slots under the current distribution, differentiable in the logits.

        Args:
            layer_latency_ms: per stage, a (operations, widths) table of one layer slot's latency.
        """
        total = self.logits["s0_op"].new_zeros(())
        for index, table in enumerate(layer_latency_ms):
            p_op = F.softmax(self.logits[f"s{index}_op"], 0)
            p_width = F.softmax(self.logits[f"s{index}_width"], 0)
            layers = 1.0 + sum(F.softmax(logits, 0)[1] for name, logits in self.logits.items()
                               if name.startswith(f"s{index}_layer"))
            total = total + p_op @ table.to(p_op.device) @ p_width * layers
        return total
