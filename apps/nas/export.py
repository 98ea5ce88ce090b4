"""Export the best model for deployment: ONNX, TorchScript, PyTorch weights, and a self-contained bundle."""

import copy
import json
import os
import string
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import onnxscript.optimizer
import torch
import torch.nn.functional as F
from timm.layers.conv2d_same import Conv2dSame
from timm.layers.padding import get_same_padding
from torch import nn
from torch.onnx import symbolic_helper

from apps.nas.build import deployed
from apps.nas.data import ImageDataset
from apps.nas.measure import deployment_costs
from apps.nas.names import ARTIFACT_FILES
from apps.nas.results import Parity, Summary, TestReport

BUNDLE_TEMPLATES = Path(__file__).resolve().parent / "bundle"
ONNX_INPUT_NAME = "image"
# Small enough that a pretrained network at 224 px keeps its activations to a few hundred MB.
PARITY_BATCH_SIZE = 32
# The exported file is checked on at most this many test images: a wrongly exported graph shows on the first
# few, and the 215 test photos of Caltech-10 through PyTorch and onnxruntime took a fine-tuned Lite0 20 s of a
# 300 s run (2-core CPU).
PARITY_IMAGES = 64


def _write_atomically(path: Path, write) -> None:
    """write(temp_path) then rename over path, so a crash never leaves half a file."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        temp = Path(handle.name)
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    def write(temp: Path) -> None:
        # The TorchScript-based exporter, deprecated upstream: it exports a fine-tuned EfficientNet-Lite0 in 0.9 s of
        # one thread where torch.export's takes 9 s, and a stopped run must end within seconds. Its graph, folded by
        # onnxscript's optimiser, runs as fast in onnxruntime (benchmarks/onnx_export.py).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            # As for TorchScript below: the input side's shape test is meant to be frozen into the graph.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            # The mirrored view's reversed slice, which is computed at run time anyway.
            warnings.filterwarnings("ignore", "Constant folding - Only steps=1", UserWarning)
            torch.onnx.register_custom_op_symbolic("aten::_upsample_bilinear2d_aa", _antialiased_resize, 18)
            torch.onnx.export(model, (example,), str(temp), input_names=[ONNX_INPUT_NAME], output_names=["logits"],
                              dynamic_axes={ONNX_INPUT_NAME: {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
        onnx.save(onnxscript.optimizer.optimize(onnx.load(str(temp))), str(temp))

    _write_atomically(path, write)


@symbolic_helper.parse_args("v", "is", "i", "none")
def _antialiased_resize(graph, images, side: list[int], align_corners: int, scale_factors):
    """ONNX for build.resize_to's antialiased bilinear resize, which the TorchScript-based exporter lacks: Resize
    with the attributes that make onnxruntime compute what PyTorch does."""
    def constant(values: list, dtype=torch.int64):
        return graph.op("Constant", value_t=torch.tensor(values, dtype=dtype))

    batch_and_channels = graph.op("Slice", graph.op("Shape", images), constant([0]), constant([2]))
    sizes = graph.op("Concat", batch_and_channels, constant(side), axis_i=0)
    no_roi = no_scales = constant([], torch.float32)
    return graph.op("Resize", images, no_roi, no_scales, sizes, mode_s="linear", antialias_i=1, exclude_outside_i=1,
                    coordinate_transformation_mode_s="half_pixel")


def _with_fixed_padding(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """A copy of model with each of timm's TensorFlow-style "same" convolutions given the padding its input needs.

    Such a convolution works its padding out from every input's size, which leaves a dozen shape operations per
    layer in the exported graph; the input side is fixed, so the padding is worked out once here and becomes
    constant pads that the optimiser folds into the convolutions.
    """
    model = copy.deepcopy(model)
    input_sides = {}

    def note_input_side(layer: nn.Module, inputs: tuple[torch.Tensor]) -> None:
        input_sides[layer] = tuple(inputs[0].shape[-2:])

    hooks = [layer.register_forward_pre_hook(note_input_side) for layer in model.modules()
             if isinstance(layer, Conv2dSame)]
    with torch.inference_mode():
        model(example)
    for hook in hooks:
        hook.remove()
    for parent in list(model.modules()):
        for name, layer in parent.named_children():
            if layer in input_sides:
                setattr(parent, name, FixedPaddingConv(layer, input_sides[layer]))
    return model


class FixedPaddingConv(nn.Module):
    """A timm Conv2dSame whose "same" padding is that of one input size."""

    def __init__(self, conv: Conv2dSame, input_side: tuple[int, int]):
        super().__init__()
        self.conv = conv
        pad_h, pad_w = (get_same_padding(size, kernel, stride, dilation) for size, kernel, stride, dilation
                        in zip(input_side, conv.kernel_size, conv.stride, conv.dilation, strict=True))
        self.padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        return F.conv2d(F.pad(x, self.padding), conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)


def _export_torchscript(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        # TorchScript is deprecated upstream but is still what C++/mobile runtimes load, and the issue asks for it.
        warnings.simplefilter("ignore", FutureWarning)
        # The shape test in build.resize_to is meant to be frozen into the trace: the input side is fixed.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, example)
        _write_atomically(path, lambda temp: torch.jit.save(traced, str(temp)))


def onnx_parity(model: nn.Module, onnx_path: Path, images: torch.Tensor) -> Parity:
    """Run PyTorch and onnxruntime on the same images: prediction agreement and max abs logit difference."""
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    agree, max_diff = 0, 0.0
    with torch.inference_mode():
        for start in range(0, len(images), PARITY_BATCH_SIZE):
            batch = images[start:start + PARITY_BATCH_SIZE].float()
            expected = model(batch).numpy()
            actual = session.run(None, {ONNX_INPUT_NAME: batch.numpy()})[0]
            agree += int((expected.argmax(1) == actual.argmax(1)).sum())
            max_diff = max(max_diff, float(np.abs(expected - actual).max()))
    return Parity(images=len(images), prediction_agreement=agree / max(1, len(images)), max_abs_logit_diff=max_diff)


def preprocessing_spec(input_shape: tuple[int, int, int]) -> dict:
    """What apps.nas.data does to an image before the model sees it (predict.py follows this)."""
    channels, side, _ = input_shape
    return {
        "side": side,
        "channels": channels,
        "input_name": ONNX_INPUT_NAME,
        "steps": [
            "decode with Pillow, apply the EXIF orientation, take the first frame",
            "scale 16-bit grey to 8 bits (divide by 257), composite transparency onto a white background, convert "
            "to RGB",
            f"crop the centre square and resize it to {side}x{side}: Pillow's ImageOps.fit with bilinear filtering "
            "(the aspect ratio is kept)",
            "convert to grayscale with Pillow 'L' (channels == 1) or keep RGB (channels == 3)",
            "float32, layout (batch, channels, height, width), raw values 0..255 (the model normalises)",
        ],
        "output": "logits, one per class in labels.json order; softmax gives probabilities",
    }


def _markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def model_card(*, genotype: dict, class_names: list[str], input_shape: tuple[int, int, int], report: TestReport,
               summary: Summary, model_facts: dict, parity: Parity) -> str:
    """README.md of the bundle: data, classes, test metrics, confusion matrix, cost, search summary."""
    channels, side, _ = input_shape
    colour = "grayscale" if channels == 1 else "colour"
    values = {
        "title": f"{len(class_names)}-class image classifier",
        "input_description": f"{colour} images, their centre square resized to {side}x{side}",
        "channels": channels,
        "side": side,
        "data_description": f"Images at {side}x{side} pixels, {'grayscale' if channels == 1 else 'RGB'}.",
        "num_classes": len(class_names),
        "class_list": ", ".join(f"`{name}`" for name in class_names),
        "test_images": report.images,
        "accuracy": f"{100 * report.accuracy:.2f}% (95% interval {100 * report.accuracy_low:.1f}% to "
                    f"{100 * report.accuracy_high:.1f}%)",
        "macro_f1": f"{report.macro_f1:.4f}",
        "per_class_table": _markdown_table(
            ["Class", "Precision", "Recall", "F1", "Test images"],
            [[row.name, f"{row.precision:.3f}", f"{row.recall:.3f}", f"{row.f1:.3f}", row.support]
             for row in report.per_class]),
        "confusion_table": _markdown_table(
            ["true \\ predicted", *class_names],
            [[name, *row] for name, row in zip(class_names, report.confusion, strict=True)]),
        "params": f"{model_facts['params']:,}",
        "flops": f"{model_facts['flops']:,}",
        "latency_ms": f"{model_facts['latency_ms']:.2f}",
        "size_mb": f"{model_facts['size_mb']:.3f}",
        "parity": f"{100 * parity.prediction_agreement:.2f}% same predictions, max abs logit difference "
                  f"{parity.max_abs_logit_diff:.2e}",
        "genotype_json": json.dumps(genotype, indent=2),
        "search_table": _markdown_table(["", ""], [[key, value] for key, value in asdict(summary).items()
                                                   if value is not None and not isinstance(value, dict | list)]),
    }
    template = string.Template((BUNDLE_TEMPLATES / "model_card.md.tmpl").read_text())
    return template.substitute(values)


def _cpu_copy(model: nn.Module) -> nn.Module:
    """An fp32 CPU copy in eval mode, so exporting never moves or changes the caller's model."""
    # Back to the default (NCHW) layout: the trainer keeps weights channels_last.
    return copy.deepcopy(model).float().cpu().to(memory_format=torch.contiguous_format).eval()


@dataclass
class Exported:
    """What export_model wrote and measured."""

    files: dict[str, str]  # path by artifact name: onnx, torchscript, weights, genotype, bundle
    parity: Parity
    model_facts: dict  # params, flops, latency_ms, size_mb of the shipped model (apps.nas.measure.deployment_costs)


def export_model(model: nn.Module, genotype: dict, *, class_names: list[str], input_shape: tuple[int, int, int],
                 test: ImageDataset, out_dir: str | Path, report: TestReport, summary: Summary) -> Exported:
    """Write model.onnx, model.torchscript.pt, weights.pt, genotype.json and bundle.zip into out_dir.

    Args:
        model: the trained network from apps.nas.build (any device; it is copied to the CPU).
        genotype: its genotype (the flip setting decides whether the shipped model averages mirrored views).
        class_names: label of each output, in order.
        input_shape: (C, H, W) the model was trained at.
        test: held-out images, the first PARITY_IMAGES of which check ONNX against PyTorch.
        out_dir: created if missing.
        report: metrics.classification_report() of the test set, for the model card.
        summary: facts about the search (strategy, trials, seconds, ...) for the model card.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    network = _cpu_copy(model)
    example = torch.zeros(2, *input_shape)
    shipped = _with_fixed_padding(deployed(network, genotype).eval(), example)
    files = {name: out / ARTIFACT_FILES[name] for name in ("onnx", "torchscript", "weights", "genotype", "bundle")}
    _write_atomically(files["weights"], lambda temp: torch.save(network.state_dict(), temp))
    _write_atomically(files["genotype"], lambda temp: temp.write_text(json.dumps(genotype, indent=2)))
    _export_torchscript(shipped, example, files["torchscript"])
    _export_onnx(shipped, example, files["onnx"])
    parity = onnx_parity(shipped, files["onnx"], test.images[:PARITY_IMAGES])
    model_facts = deployment_costs(network, genotype, input_shape)
    card = model_card(genotype=genotype, class_names=class_names, input_shape=input_shape, report=report,
                      summary=summary, model_facts=model_facts, parity=parity)
    bundle_files = {
        "model.onnx": files["onnx"].read_bytes(),
        "labels.json": json.dumps(list(class_names), indent=2).encode(),
        "preprocessing.json": json.dumps(preprocessing_spec(input_shape), indent=2).encode(),
        "predict.py": (BUNDLE_TEMPLATES / "predict.py").read_bytes(),
        "README.md": card.encode(),
        ARTIFACT_FILES["genotype"]: files["genotype"].read_bytes(),
    }

    def write_bundle(temp: Path) -> None:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for name, data in bundle_files.items():
                bundle.writestr(name, data)

    _write_atomically(files["bundle"], write_bundle)
    return Exported(files={name: str(path) for name, path in files.items()}, parity=parity, model_facts=model_facts)


def unpack_bundle(bundle: str | Path, target: str | Path) -> Path:
    """Extract bundle.zip into target (for tests and the CLI's own check); returns target."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(bundle) as archive:
        for member in archive.namelist():
            if Path(member).name != member:  # the bundle is flat: anything else is not ours
                raise ValueError(f"Unexpected path in bundle: {member}")
        archive.extractall(target)
    return target

