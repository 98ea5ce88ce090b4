"""Train one candidate fast: the whole dataset is one tensor on the device and every step is batched.

No DataLoader, no per-sample Python: each step gathers a batch of uint8 images by index, augments the whole
batch at once with one random affine warp (grid_sample), and runs forward/backward. The model runs in
channels_last memory format (cuDNN and oneDNN convolutions skip layout conversions: 1.2-1.5x on this project's
CPU). On CUDA it trains under bf16 autocast with cudnn autotuning; on a CPU with native bf16 instructions
(AVX512-BF16 / AMX, as oneDNN reports) too, unless the network has depthwise convolutions, whose bf16 backward
pass on CPU is slower than fp32's (measured: dense baseline 1.6-1.8x faster in bf16, depthwise nets 0.7x).
"""

import copy
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from apps.nas.build import PretrainedClassifier, build, deployed, resize_to
from apps.nas.data import ImageDataset
from apps.nas.data_parallel import TrainingGroup
from apps.nas.features import FeatureCache, FeaturesInterrupted, cacheable
from apps.nas.results import CurvePoint

# One-cycle schedule: linear warm-up over the first 10% of steps, then cosine decay to zero.
WARMUP_FRACTION = 0.1
SGD_MOMENTUM = 0.9
# At augment strength 1: shifts up to 12.5% of the side, rotations up to 12 degrees, zoom up to +-12%.
MAX_SHIFT_FRACTION = 0.125
MAX_ROTATION_DEGREES = 12.0
MAX_ZOOM = 0.12
# Evaluation batches hold about this many input pixels (1024 images of 32x32, 20 of 224x224): large enough to be
# fast, small enough that a pretrained network's activations fit in memory.
EVAL_BATCH_PIXELS = 1024 * 32 * 32
MAX_EVAL_BATCH_SIZE = 1024
# A trainer alone polls should_stop() once this long has passed since its last poll, not at every step (the run's
# clock read thousands of times an epoch for small networks), nor every 8 steps, as it did: an epoch of a network
# fine-tuned at 224 px, 8 steps of about 1.1 s on Caltech-10 at 20 photos a class, ran 10 s past the search's deadline,
# and the run's end lost the time to retrain its best.
STOP_CHECK_SECONDS = 0.25
# In a group, whose members decide together (a collective), every this many steps: the same steps in each.
STOP_CHECK_EVERY_STEPS = 8


def default_cpu_threads() -> int:
    """PyTorch intra-op threads for training on a CPU: one fewer than the cores, at least one.

    The spare core serves the data, the database and the web; on a busy 2-core machine two threads trained about
    10 times slower than one (docs/benchmarks.md).
    """
    return max(1, (os.cpu_count() or 1) - 1)


class TrainingInterrupted(Exception):
    """should_stop() became true in the middle of an epoch."""


@dataclass
class EpochStats(CurvePoint):
    """What one epoch did: the point of the learning curve, and how fast it went."""

    images_per_second: float
    lr: float
    # Images per second through the whole network as shipped, in batches, on the validation pass; None where that
    # pass read cached features (or nothing was held out). What scoring the test split will cost.
    eval_images_per_second: float | None = None


def augment_batch(images: torch.Tensor, strength: float, flip: bool, generator: torch.Generator, *,
                  rows: slice = slice(None), batch_size: int | None = None) -> torch.Tensor:
    """Random shift, rotation, zoom (and horizontal flip) of a whole batch in one grid_sample call.

    Args:
        images: float (B, C, H, W).
        strength: 0 (no change) .. 1 (the MAX_* limits above).
        flip: mirror half of the images left-right (wrong for digits and text, right for most photos).
        generator: source of randomness, on the images' device.
        rows, batch_size: when the images are one process's rows of a batch split between processes (see
            apps.nas.data_parallel), which rows and the whole batch's size: the warps are drawn for the whole batch,
            as in the other processes, and these rows get theirs.
    """
    batch = batch_size or images.shape[0]
    if strength <= 0 and not flip:
        return images

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(batch, generator=generator, device=images.device) * (high - low) + low

    angle = uniform(-1, 1) * math.radians(MAX_ROTATION_DEGREES * strength)
    scale = torch.exp(uniform(-1, 1) * math.log1p(MAX_ZOOM * strength))
    # affine_grid works in normalised coordinates where the image spans [-1, 1], so a shift of f of the side is 2f.
    shift_x, shift_y = (uniform(-1, 1) * 2 * MAX_SHIFT_FRACTION * strength for _ in range(2))
    mirror = torch.where(uniform(0, 1) < 0.5, -1.0, 1.0) if flip else torch.ones_like(angle)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([  # (B, 2, 3): output pixel -> where it is read from in the input
        torch.stack([cos * mirror, -sin, shift_x], 1),
        torch.stack([sin * mirror, cos, shift_y], 1),
    ], 1)[rows]
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def cpu_has_fast_bf16() -> bool:
    """True when oneDNN runs bf16 convolutions natively here (without it, CPU bf16 is emulated and slower)."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def has_depthwise_convolutions(model: nn.Module) -> bool:
    """True when any convolution is grouped (depthwise), as in mbconv and dwsep blocks."""
    return any(isinstance(module, nn.Conv2d) and module.groups > 1 for module in model.modules())


def resized_uint8(images: torch.Tensor, side: int, chunk: int = 256) -> torch.Tensor:
    """uint8 images (N, C, H, W) at side x side by the networks' own resize (build.resize_to), a chunk at a time so
    no float copy of the whole dataset is made; the images themselves when they are at that side already."""
    if images.shape[-2:] == (side, side):
        return images
    return torch.cat([resize_to(images[start:start + chunk].float(), side).round().clamp(0, 255).to(torch.uint8)
                      for start in range(0, len(images), chunk)])


def eval_batch_size(images: torch.Tensor) -> int:
    """Images per evaluation batch: about EVAL_BATCH_PIXELS pixels, between 8 and MAX_EVAL_BATCH_SIZE."""
    return max(8, min(MAX_EVAL_BATCH_SIZE, EVAL_BATCH_PIXELS // max(1, images.shape[-1] * images.shape[-2])))


def one_cycle_lr(step: int, total_steps: int, peak_lr: float) -> float:
    """Linear warm-up to peak_lr, then cosine decay to zero at total_steps."""
    warmup = max(1, round(WARMUP_FRACTION * total_steps))
    if step < warmup:
        return peak_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return peak_lr * 0.5 * (1 + math.cos(math.pi * progress))


def steps_per_epoch(images: int, batch_size: int) -> int:
    """Batches in an epoch over this many images. The ragged last batch is dropped: a batch of 1 or 2 makes batch-norm
    statistics meaningless."""
    return max(1, images // min(batch_size, images))


class Trainer:
    """Trains the network a genotype describes, one epoch per call, resumable from state_dict()."""

    def __init__(self, genotype: dict, train: ImageDataset, val: ImageDataset | None, *,
                 device: str | torch.device, seed: int, should_stop: Callable[[], bool] | None = None,
                 seconds_left: Callable[[], float] | None = None, features: FeatureCache | None = None,
                 group: TrainingGroup | None = None):
        """Build the model and optimizer and move the data to the device.

        Args:
            genotype: architecture + genotype["train"] hyperparameters (see apps.nas.space).
            train: training images; val: validation images scored after every epoch, or None.
            device: "cpu", "cuda", ...
            seed: fixes weight init, batch order, augmentation and dropout (bit-identical on CPU).
            should_stop: polled during each epoch (see _stop_asked); when it returns True, run_epoch raises
                TrainingInterrupted.
            seconds_left: the time a frozen backbone's features may take (see FeatureCache.features); None: any.
            features: where a frozen pretrained backbone's features are cached (shared by a search's candidates);
                None: a cache of this trainer's own.
            group: the processes this trainer trains one network with, each on its rows of every batch (built with
                the same arguments in each); None: alone.
        """
        self.genotype = genotype
        self.hyper = genotype["train"]
        self.device = torch.device(device)
        self.on_cuda = self.device.type == "cuda"
        self.should_stop = should_stop
        self.group = group
        self.seconds_left = seconds_left
        self.total_epochs = int(self.hyper["epochs"])
        self.epochs_done = 0
        self.stop_polled_at = 0.0  # time.monotonic() of the last should_stop() poll
        self.history: list[EpochStats] = []
        # Own RNG states, swapped in around our work, so other code touching torch's global RNG between epochs
        # (another trial, a latency probe) cannot change this run: that is what makes resume bit-identical.
        with torch.random.fork_rng(devices=[self.device] if self.on_cuda else [], device_type=self.device.type):
            torch.manual_seed(seed)
            self.model = build(genotype, train.input_shape, train.num_classes)
            self._rng_state = self._get_global_rng()
        self.model = self.model.to(self.device, memory_format=torch.channels_last)
        self.feature_cache = features if features is not None else FeatureCache()
        # A pretrained backbone's frozen stages run once per image and view (through the cache), where their output
        # fits in memory: the steps run the rest, the head alone or the fine-tuned stages and the head.
        self.views = (False, True) if self.hyper["flip"] else (False,)
        self.cached = isinstance(self.model, PretrainedClassifier) and cacheable(
            self.model, train.input_shape, len(train) + (len(val) if val is not None else 0), len(self.views))
        self.forward_train = self.model.learned_part if self.cached else self.model
        # What learns and is saved: a frozen backbone's weights come from its package.
        self.learned = self.model.head if self.cached and self.model.frozen else self.model
        self.use_bf16 = self.on_cuda or (self.device.type == "cpu" and cpu_has_fast_bf16()
                                         and not has_depthwise_convolutions(self.learned))
        if self.on_cuda:
            torch.backends.cudnn.benchmark = True  # autotune conv kernels: the input shape never changes
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.train_images = train.images
        self.inputs: torch.Tensor | None = None  # set by _prepare_inputs, before the first epoch
        self.val_images = val.images if val is not None else None  # resized once by _prepare_inputs where it pays
        self.labels = train.labels.to(self.device)
        self.num_classes = train.num_classes
        self.val = val
        self.batch_size = min(int(self.hyper["batch_size"]), len(train))
        self.steps_per_epoch = steps_per_epoch(len(train), self.batch_size)
        # The last epoch's batches in the schedule: fewer only where a final training ends with a partial epoch
        # (schedule_in_steps).
        self.last_epoch_steps = self.steps_per_epoch
        self.optimizer = self._make_optimizer()
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=float(self.hyper["label_smoothing"]))

    def _make_optimizer(self) -> torch.optim.Optimizer:
        lr = float(self.hyper["lr"])
        # A pretrained backbone's fine-tuned stages learn at their own, lower rate (lr_scale follows the schedule).
        modules = [(self.learned, 1.0)]
        if isinstance(self.learned, PretrainedClassifier):
            modules = [(self.learned.head, 1.0), (self.learned.backbone, float(self.hyper["backbone_lr"]) / lr)]
        groups = []
        for module, lr_scale in modules:
            parameters = [p for p in module.parameters() if p.requires_grad]
            # No weight decay on batch-norm parameters and biases (decaying them only hurts).
            groups += [
                {"params": [p for p in parameters if p.ndim > 1], "weight_decay": float(self.hyper["weight_decay"]),
                 "lr_scale": lr_scale},
                {"params": [p for p in parameters if p.ndim <= 1], "weight_decay": 0.0, "lr_scale": lr_scale},
            ]
        if self.hyper["optimizer"] == "sgd":
            return torch.optim.SGD(groups, lr=lr, momentum=SGD_MOMENTUM, nesterov=True)
        if self.hyper["optimizer"] == "adamw":
            return torch.optim.AdamW(groups, lr=lr)
        raise ValueError(f"Unknown optimizer {self.hyper['optimizer']!r}")

    def _get_global_rng(self) -> dict:
        state = {"cpu": torch.get_rng_state()}
        if self.on_cuda:
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    @contextmanager
    def _own_rng(self) -> Iterator[None]:
        with torch.random.fork_rng(devices=[self.device] if self.on_cuda else [], device_type=self.device.type):
            torch.set_rng_state(self._rng_state["cpu"])
            if self.on_cuda and "cuda" in self._rng_state:
                torch.cuda.set_rng_state(self._rng_state["cuda"], self.device)
            yield
            self._rng_state = self._get_global_rng()

    def _autocast(self, training: bool = True):
        # bf16 has fp32's range, so no loss scaling is needed; weights, optimizer and loss stay fp32. CPU inference
        # stays fp32, exactly like the exported model, so reported accuracy is the deployed model's accuracy.
        enabled = self.use_bf16 and (training or self.on_cuda)
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def _prepare_inputs(self) -> None:
        """What the steps read, on the device: the images at the network's side (uint8, 4x smaller than float), or
        the frozen stages' output for each image (N, views, ...), the mirrored view too when training flips."""
        if self.inputs is not None:
            return
        if self.cached:
            try:
                limits = {"should_stop": self.should_stop, "seconds_left": self.seconds_left}
                inputs = torch.stack([self.feature_cache.features(self.model, self.train_images, mirrored=mirrored,
                                                                  **limits)
                                      for mirrored in self.views], 1)
                if self.val is not None:  # computed now, so the first epoch's time is training's alone
                    for mirrored in self.views:
                        self.feature_cache.features(self.model, self.val.images, mirrored=mirrored, **limits)
            except FeaturesInterrupted as stopped:
                raise TrainingInterrupted(f"stopped while computing features: {stopped}") from stopped
        elif isinstance(self.model, PretrainedClassifier):
            # The stored images, which the network resizes batch by batch: a resized copy of 20,000 photos at
            # 160 px would add 1.5 GB to their 3 GB.
            inputs = self.train_images
        else:
            # Networks from scratch work at 64 px at most: a copy at their side is small and saves a resize a step
            # (and, for the validation images, a resize every epoch).
            inputs = resized_uint8(self.train_images, self.model.input_side)
            if self.val is not None:
                self.val_images = resized_uint8(self.val.images, self.model.input_side)
        self.inputs = inputs.to(self.device)

    def _training_batch(self, index: torch.Tensor, rows: slice = slice(None)) -> torch.Tensor:
        """The inputs of one step (this process's rows of the batch), augmented: a random view of each image's
        cached frozen output, or an augmented image."""
        if self.cached:
            views = self.inputs[index[rows]]  # (B, V, ...)
            view = torch.randint(views.shape[1], (len(index),), generator=self.generator, device=self.device)[rows]
            chosen = views[torch.arange(len(view), device=self.device), view]
            return chosen.contiguous(memory_format=torch.channels_last) if chosen.ndim == 4 else chosen
        images = self.inputs[index[rows]].float()  # (B, C, H, W), 0..255
        images = augment_batch(images, float(self.hyper["augment"]), bool(self.hyper["flip"]), self.generator,
                               rows=rows, batch_size=len(index))
        return images.contiguous(memory_format=torch.channels_last)

    def _stop_asked(self, step: int) -> bool:
        """Whether to stop before this step of the epoch: should_stop(), polled at the epoch's start and then every
        STOP_CHECK_SECONDS; in a group every STOP_CHECK_EVERY_STEPS steps, stopping where any member's says stop."""
        if self.group is not None:
            if step % STOP_CHECK_EVERY_STEPS:
                return False
            return self.group.any(self.should_stop is not None and self.should_stop())
        now = time.monotonic()
        if self.should_stop is None or (step and now - self.stop_polled_at < STOP_CHECK_SECONDS):
            return False
        self.stop_polled_at = now
        return self.should_stop()

    @property
    def schedule_steps(self) -> int:
        """Batches the learning-rate schedule spans: total_epochs of them, the last of last_epoch_steps batches."""
        return self.steps_per_epoch * (self.total_epochs - 1) + self.last_epoch_steps

    def schedule_in_steps(self, steps: int) -> None:
        """Make the schedule span `steps` batches: whole epochs, and the last one partial where they do not fill it."""
        self.total_epochs = -(-steps // self.steps_per_epoch)
        self.last_epoch_steps = steps - self.steps_per_epoch * (self.total_epochs - 1)

    def run_epoch(self) -> EpochStats:
        """Train one epoch (the LR schedule spans schedule_steps; a partial last epoch ends with it), then score the
        validation set."""
        self._prepare_inputs()
        start = time.perf_counter()
        total_steps = self.schedule_steps
        epoch_steps = max(1, min(self.steps_per_epoch, total_steps - self.epochs_done * self.steps_per_epoch))
        peak_lr = float(self.hyper["lr"])
        self.model.train()
        # Running sums stay on the device: no .item() per step, so the GPU never waits for the host.
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        rows = self.group.rows(self.batch_size) if self.group is not None else slice(0, self.batch_size)
        with self._own_rng():
            order = torch.randperm(len(self.labels), generator=self.generator, device=self.device)
            for step in range(epoch_steps):
                if self._stop_asked(step):
                    raise TrainingInterrupted(f"stopped during epoch {self.epochs_done + 1}")
                lr = one_cycle_lr(self.epochs_done * self.steps_per_epoch + step, total_steps, peak_lr)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr * group.get("lr_scale", 1.0)  # a checkpoint from before lr_scale: 1
                index = order[step * self.batch_size:(step + 1) * self.batch_size]
                inputs = self._training_batch(index, rows)
                labels = self.labels[index[rows]]
                with self._autocast():
                    logits = self.forward_train(inputs)
                loss = self.loss_fn(logits.float(), labels)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.group is not None:
                    self.group.average_gradients(self.learned)
                self.optimizer.step()
                loss_sum += loss.detach() * len(labels)
                correct += (logits.argmax(1) == labels).sum()
        seen = epoch_steps * (rows.stop - rows.start)
        train_seconds = time.perf_counter() - start
        val_loss = val_accuracy = eval_images_per_second = None
        if self.val is not None and len(self.val):
            val_loss, val_accuracy = self.evaluate(self.val_images, self.val.labels)
            if not self.cached:
                eval_images_per_second = len(self.val) / (time.perf_counter() - start - train_seconds)
        self.epochs_done += 1
        stats = EpochStats(
            epoch=self.epochs_done, train_loss=loss_sum.item() / seen, train_accuracy=correct.item() / seen,
            val_loss=val_loss, val_accuracy=val_accuracy, seconds=time.perf_counter() - start,
            images_per_second=seen / train_seconds, lr=lr, eval_images_per_second=eval_images_per_second,
        )
        self.history.append(stats)
        return stats

    def fit(self) -> list[EpochStats]:
        """Run the remaining epochs up to total_epochs."""
        while self.epochs_done < self.total_epochs:
            self.run_epoch()
        return self.history

    @torch.inference_mode()
    def predict_logits(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes), float32 on the CPU, in eval mode; averaged with the mirror image if flip is on."""
        self.model.eval()
        if not len(images_uint8):
            return torch.empty(0, self.num_classes)
        if self.cached:
            return self._predict_from_cache(images_uint8)
        network = deployed(self.model, self.genotype)  # with the shipped model's test-time flips
        outputs = []
        batch_size = eval_batch_size(images_uint8)
        for start in range(0, len(images_uint8), batch_size):
            images = images_uint8[start:start + batch_size].to(self.device).float()
            with self._autocast(training=False):
                outputs.append(network(images.contiguous(memory_format=torch.channels_last)).float().cpu())
        return torch.cat(outputs)

    def _predict_from_cache(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """predict_logits of a backbone whose frozen output is cached: the rest of the network on each view's."""
        batch_size = eval_batch_size(images_uint8)
        logits = []
        for mirrored in self.views:
            frozen = self.feature_cache.features(self.model, images_uint8, mirrored=mirrored)
            logits.append(torch.cat([self.model.learned_part(frozen[start:start + batch_size].to(self.device))
                                     .float().cpu() for start in range(0, len(frozen), batch_size)]))
        return sum(logits) / len(logits)

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
        """(cross-entropy loss without label smoothing, accuracy) on uint8 images and their labels."""
        logits = self.predict_logits(images)
        loss = F.cross_entropy(logits, labels).item()
        accuracy = (logits.argmax(1) == labels).float().mean().item()
        return loss, accuracy

    def state_dict(self) -> dict:
        """Everything needed to continue bit-identically: weights, optimizer, epochs done, RNG states, history.

        Take it between epochs (after run_epoch returns); after TrainingInterrupted the weights are mid-epoch.
        Only tensors, numbers, strings, lists and dicts: loadable with torch.load(..., weights_only=True).
        """
        return copy.deepcopy({
            "model": self.learned.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epochs_done": self.epochs_done,
            "rng": {**self._rng_state, "generator": self.generator.get_state()},
            "history": [vars(stats) for stats in self.history],
        })

    def load_state_dict(self, state: dict) -> None:
        """Continue from a state_dict() taken by a trainer built from the same genotype and data."""
        self.learned.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epochs_done = int(state["epochs_done"])
        rng = dict(state["rng"])
        self.generator.set_state(rng.pop("generator"))
        if not self.on_cuda:
            rng.pop("cuda", None)
        self._rng_state = {**self._get_global_rng(), **rng}
        self.history = [EpochStats(**stats) for stats in state["history"]]
