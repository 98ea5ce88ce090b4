"""What a pretrained backbone's frozen stages make of each image and view, computed once and reused by every
candidate that needs it.

A candidate with a frozen pretrained backbone learns only its head, so what the backbone makes of an image never
changes: the first such candidate pays one pass of the backbone over the images (seconds to minutes on a CPU),
every later one trains its head on the cached features in milliseconds per epoch. A candidate that fine-tunes
only the last stages caches the activations its frozen stages hand them, and its epochs run those stages alone
(fine-tuning Lite0's last three stages at 128 px: 7 s an epoch on 3,400 EuroSAT tiles, against about 100 s
through the whole network). Entries are keyed by the image's bytes, the backbone, the side, the stages that learn
and the view (as is or mirrored), so train+validation (the final training's data) reuses what the search computed
for each part. With a directory, the cache is also kept on disk, and a resumed run does not compute them again.
"""

import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from apps.nas.build import PretrainedClassifier
from apps.nas.checkpoint import load_torch, save_torch_atomic

# Images per forward pass. Small batches are faster on a CPU (8 ran 1.4-2x the images/s of 32 on the 2-core
# machine); a GPU wants more.
CPU_BATCH_SIZE = 8
CUDA_BATCH_SIZE = 128
# After this many batches the time the rest will take is projected and compared with the time left.
PROJECT_AFTER_BATCHES = 4
# The most memory a fine-tuned candidate's cached activations may take (a trainer holds a second, stacked copy);
# beyond it, its frozen stages run on every step instead.
MAX_ACTIVATION_BYTES = 1 << 30


class FeaturesInterrupted(Exception):
    """should_stop() became true while features were being computed (those computed so far are kept)."""


def image_keys(images: torch.Tensor) -> list[bytes]:
    """A 16-byte digest of each image's pixels (N images -> N keys)."""
    array = images.cpu().numpy()
    return [hashlib.blake2b(image.tobytes(), digest_size=16).digest() for image in array]


def frozen_output_shape(model: PretrainedClassifier, image_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of model.frozen_part's output for one image of image_shape (C, H, W)."""
    with torch.inference_mode():  # frozen stages compute the same in train and eval mode
        image = torch.zeros(1, *image_shape, device=next(model.parameters()).device)
        return tuple(model.frozen_part(image).shape[1:])


def cacheable(model: PretrainedClassifier, image_shape: tuple[int, ...], images: int, views: int) -> bool:
    """Whether the frozen stages' output for this many images and views may be cached: always for pooled features;
    for a fine-tuned candidate's activations, when they take at most MAX_ACTIVATION_BYTES (float32: in bfloat16
    the validation and test scores would drift from the exported model's)."""
    if model.frozen:
        return True
    if model.backbone.frozen_stages == 0:
        return False
    return math.prod(frozen_output_shape(model, image_shape)) * 4 * images * views <= MAX_ACTIVATION_BYTES


class FeatureCache:
    """The output of pretrained backbones' frozen stages by (backbone, side, stages learning, view) and image."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory
        self._features: dict[tuple[str, int, bool], dict[bytes, torch.Tensor]] = {}
        # The keys of the tensors seen last, by identity: a search asks for the same splits over and over.
        self._keys: dict[int, tuple[torch.Tensor, list[bytes]]] = {}
        self.computed = 0  # images passed through a backbone by this cache, all views together

    def features(self, model: PretrainedClassifier, images: torch.Tensor, *, mirrored: bool = False,
                 should_stop: Callable[[], bool] | None = None,
                 seconds_left: Callable[[], float] | None = None) -> torch.Tensor:
        """model.frozen_part of uint8 images (N, C, H, W), mirrored left-right or not, float32 on the CPU: features
        (N, F) of a frozen backbone, activations (N, C', h, w) of one that fine-tunes its last stages.

        Args:
            model: a pretrained classifier whose first stages are frozen (their output does not depend on training).
            images: the images, at any side (the model resizes them).
            mirrored: the view: as is, or flipped left-right (what a model trained with flips also sees).
            should_stop: polled between batches; when true, FeaturesInterrupted is raised.
            seconds_left: the time the features may take; when the rest of them would take longer (projected
                from the first batches), FeaturesInterrupted is raised at once rather than at the deadline.
        """
        view = (model.backbone_name, model.input_side, model.finetune, mirrored)
        known = self._load(view)
        keys = self._image_keys(images)
        missing = [index for index, key in enumerate(keys) if key not in known]
        if missing:
            device = next(model.parameters()).device
            batch_size = CUDA_BATCH_SIZE if device.type == "cuda" else CPU_BATCH_SIZE
            model.eval()
            new: dict[bytes, torch.Tensor] = {}
            started = time.monotonic()
            try:
                for start in range(0, len(missing), batch_size):
                    if should_stop is not None and should_stop():
                        raise FeaturesInterrupted(f"stopped after {start} of {len(missing)} images")
                    if seconds_left is not None and start >= PROJECT_AFTER_BATCHES * batch_size:
                        needed = (time.monotonic() - started) / start * (len(missing) - start)
                        if needed > (left := seconds_left()):
                            raise FeaturesInterrupted(f"the rest would take about {needed:.0f} s, and {left:.0f} s "
                                                      "are left")
                    chunk = missing[start:start + batch_size]
                    batch = images[chunk].to(device).float()
                    batch = batch.flip(-1) if mirrored else batch
                    with torch.inference_mode():
                        rows = model.frozen_part(batch.contiguous(memory_format=torch.channels_last)).float().cpu()
                    new.update(zip((keys[index] for index in chunk), rows, strict=True))
                    self.computed += len(chunk)
            finally:
                known.update(new)
                self._save(view, new)
        if not keys:
            return torch.empty(0, *frozen_output_shape(model, tuple(images.shape[1:])))
        return torch.stack([known[key] for key in keys])

    def missing(self, model: PretrainedClassifier, images: torch.Tensor, *, mirrored: bool = False) -> int:
        """How many of the images' frozen outputs, in this view, features() would still compute."""
        known = self._load((model.backbone_name, model.input_side, model.finetune, mirrored))
        return sum(key not in known for key in self._image_keys(images))

    def _image_keys(self, images: torch.Tensor) -> list[bytes]:
        seen = self._keys.get(id(images))
        if seen is not None and seen[0] is images:
            return seen[1]
        keys = image_keys(images)
        self._keys[id(images)] = (images, keys)
        return keys

    def _files(self, view: tuple[str, int, int, bool]) -> list[Path]:
        """The files a view is kept in so far (none without a directory).

        Each call that computes features adds one file of its new rows: rewriting all of them each time would
        write a large dataset's features once for training and again for validation.
        """
        return sorted(self.directory.glob(f"{_file_stem(view)}.*.pt")) if self.directory is not None else []

    def _load(self, view: tuple[str, int, int, bool]) -> dict[bytes, torch.Tensor]:
        if view not in self._features:
            known: dict[bytes, torch.Tensor] = {}
            for path in self._files(view):
                saved = load_torch(path)
                known.update(zip((bytes(key) for key in saved["keys"].tolist()), saved["features"], strict=True))
            self._features[view] = known
        return self._features[view]

    def _save(self, view: tuple[str, int, int, bool], new: dict[bytes, torch.Tensor]) -> None:
        if self.directory is None or not new:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        keys = torch.tensor([list(key) for key in new], dtype=torch.uint8)
        save_torch_atomic({"keys": keys, "features": torch.stack(list(new.values()))},
                          self.directory / f"{_file_stem(view)}.{len(self._files(view)):05d}.pt")


def _file_stem(view: tuple[str, int, int, bool]) -> str:
    backbone, side, finetune, mirrored = view
    return f"{backbone}-{side}{f'-last{finetune}' if finetune else ''}{'-mirrored' if mirrored else ''}"
