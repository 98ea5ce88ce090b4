"""Seconds to export the shipped model to ONNX, and the exported model's speed in onnxruntime, for the engine's
exporter and, side by side in the same process, PyTorch's default torch.export-based one.

    .venv/bin/python -m benchmarks.onnx_export

Models: a fine-tuned EfficientNet-Lite0 classifier at 224 px (with its mirrored-view averaging), the hand-designed
recipe from scratch at 64 px shrinking 96-px photos, and the same recipe at 28 px. One PyTorch and one onnxruntime
thread; latency is the median of 50 single-image runs after 5 warm-up runs. Each exported file is checked against
PyTorch on 8 random images (the largest logit difference).
"""

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from apps.nas.build import build, deployed
from apps.nas.export import ONNX_INPUT_NAME, _export_onnx, _with_fixed_padding
from apps.nas.space import baseline_genotype

MODELS = {
    "Lite0 fine-tuned, 224 px, flips": (
        {"backbone": "lite0", "side": 224, "finetune": 2, "head_hidden": 0,
         "train": {"flip": True, "dropout": 0.1, "epochs": 1}}, (3, 224, 224)),
    "recipe from scratch, 96 px photos": (baseline_genotype(epochs=1), (3, 96, 96)),
    "recipe from scratch, 28 px grey": (baseline_genotype(epochs=1), (1, 28, 28)),
}


def torch_export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """PyTorch's default exporter with its optimiser, as the engine used it before (the baseline)."""
    torch.onnx.export(model, (example,), str(path), input_names=[ONNX_INPUT_NAME], output_names=["logits"],
                      dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True, external_data=False,
                      verbose=False)


def latency_ms(path: Path, shape: tuple[int, int, int]) -> float:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    image = {ONNX_INPUT_NAME: (np.random.default_rng(0).random((1, *shape)) * 255).astype(np.float32)}
    for _ in range(5):
        session.run(None, image)
    times = []
    for _ in range(50):
        began = time.perf_counter()
        session.run(None, image)
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times)


def largest_difference(model: torch.nn.Module, path: Path, shape: tuple[int, int, int]) -> float:
    images = torch.rand(8, *shape) * 255
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model(images).numpy()
    return float(np.abs(session.run(None, {ONNX_INPUT_NAME: images.numpy()})[0] - expected).max())


def main() -> None:
    torch.set_num_threads(1)
    print("| model | exporter | export s | onnxruntime ms/image | max logit difference |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for name, (genotype, shape) in MODELS.items():
            model = deployed(build(genotype, shape, num_classes=10), genotype).eval()
            example = torch.zeros(2, *shape)
            for exporter, export in (("torch.export (before)", torch_export_onnx),
                                     ("TorchScript + fixed padding (shipped)", _export_onnx)):
                path = Path(folder) / f"{len(name)}-{len(exporter)}.onnx"
                began = time.perf_counter()
                export(_with_fixed_padding(model, example) if export is _export_onnx else model, example, path)
                seconds = time.perf_counter() - began
                print(f"| {name} | {exporter} | {seconds:.2f} | {latency_ms(path, shape):.2f} | "
                      f"{largest_difference(model, path, shape):.1e} |", flush=True)


if __name__ == "__main__":
    main()
