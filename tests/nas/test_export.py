"""The exported model gives the engine's answers: in ONNX, TorchScript, plain weights and the bundle's predict.py."""

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from apps.nas.build import build
from apps.nas.data import load_image_folder, split_dataset
from apps.nas.export import BUNDLE_TEMPLATES, PARITY_IMAGES, export_model, unpack_bundle
from apps.nas.metrics import classification_report
from apps.nas.preprocess import open_image, preprocess_image
from apps.nas.results import Summary
from apps.nas.space import baseline_genotype
from apps.nas.train import Trainer
from tests.nas.conftest import write_image_folder


def small_genotype(kind: str) -> dict:
    if kind == "pretrained":
        return {"backbone": "lite0", "side": 96, "finetune": 1, "head_hidden": 32,
                "train": {"optimizer": "adamw", "lr": 0.003, "backbone_lr": 1e-4, "weight_decay": 0.01, "dropout": 0.1,
                          "batch_size": 16, "augment": 0.3, "flip": True, "label_smoothing": 0.1, "epochs": 2}}
    genotype = baseline_genotype(epochs=3)
    genotype["stem_width"] = 8
    genotype["stages"] = [{"block": "mbconv", "depth": 1, "width": 16, "kernel": 3, "se": True, "expand": 2}]
    genotype["train"].update({"batch_size": 16, "flip": kind == "flip-tta"})
    return genotype


@pytest.fixture(scope="module", params=["plain", "flip-tta", "pretrained"])
def exported(request, tmp_path_factory):
    """A small model trained on non-square colour images, exported; plain shrinks its 80-pixel images to the 64 pixels
    a network from scratch sees, flip-tta ships the mirrored-view averaging too, pretrained is an ImageNet backbone
    with its last stage fine-tuned, an MLP head and flips, enlarging its images to 96 pixels."""
    size = (80, 70) if request.param == "plain" else (14, 10)
    root = write_image_folder(tmp_path_factory.mktemp("data"), classes=3, per_class=12, size=size, mode="RGB")
    splits = split_dataset(load_image_folder(root), seed=0)
    trainer = Trainer(small_genotype(request.param), splits.train, splits.val, device="cpu", seed=0)
    trainer.fit()
    predictions = trainer.predict_logits(splits.test.images).argmax(1)
    report = classification_report(splits.test.labels, predictions, splits.test.class_names)
    out = tmp_path_factory.mktemp("export")
    summary = Summary(
        status="finished", strategy="auto", seed=0, device="cpu", multi_fidelity=True, budget_seconds=10,
        elapsed_seconds=9, candidates_trained=1, epochs_trained=3, training_seconds=5, best_trial=0,
        best_val_accuracy=1.0, retrained=False, recipe_only=False, input_shape=list(splits.test.input_shape),
        trials={"complete": 1}, constraints={}, splits={"train": len(splits.train), "val": len(splits.val),
                                                        "test": len(splits.test)})
    result = export_model(trainer.model, trainer.genotype, class_names=splits.test.class_names,
                          input_shape=splits.test.input_shape, test=splits.test, out_dir=out, report=report,
                          summary=summary)
    return {"root": root, "trainer": trainer, "test": splits.test, "result": result, "out": out}


def test_onnx_agrees_with_pytorch_on_the_test_images(exported):
    parity = exported["result"].parity
    assert parity.images == min(PARITY_IMAGES, len(exported["test"]))
    assert parity.prediction_agreement == 1.0
    assert parity.max_abs_logit_diff < 1e-3


def test_the_genotype_round_trips_through_json(exported):
    genotype = json.loads(Path(exported["result"].files["genotype"]).read_text())
    assert genotype == exported["trainer"].genotype


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_and_plain_weights_reproduce_the_engine(exported):
    trainer, test, files = exported["trainer"], exported["test"], exported["result"].files
    expected = trainer.predict_logits(test.images)
    scripted = torch.jit.load(files["torchscript"])
    with torch.no_grad():
        assert torch.allclose(scripted(test.images.float()), expected, atol=1e-4)
    genotype = json.loads(Path(files["genotype"]).read_text())
    rebuilt = build(genotype, test.input_shape, test.num_classes).eval()
    rebuilt.load_state_dict(torch.load(files["weights"], weights_only=True))
    with torch.no_grad():
        plain = rebuilt(test.images.float())
    if not genotype["train"]["flip"]:
        assert torch.allclose(plain, expected, atol=1e-4)
    else:
        assert torch.allclose((plain + rebuilt(test.images.float().flip(-1))) / 2, expected, atol=1e-4)


def test_the_bundle_holds_a_model_card_and_everything_predict_needs(exported):
    with zipfile.ZipFile(exported["result"].files["bundle"]) as bundle:
        assert set(bundle.namelist()) == {"model.onnx", "labels.json", "preprocessing.json", "predict.py",
                                          "README.md", "genotype.json"}
        # As the model card says: the genotype the weights download is rebuilt from.
        assert bundle.read("genotype.json") == Path(exported["result"].files["genotype"]).read_bytes()
        card = bundle.read("README.md").decode()
        labels = json.loads(bundle.read("labels.json"))
        spec = json.loads(bundle.read("preprocessing.json"))
    assert labels == exported["test"].class_names
    assert spec["channels"] == 3  # colour images: the three-channel path is the one exercised
    assert (spec["channels"], spec["side"], spec["side"]) == exported["test"].input_shape
    for expected in ("Test accuracy", "Confusion matrix", "class_2", "CPU latency", "auto"):
        assert expected in card
    assert "$" not in card.split("```json")[0]  # every template field was filled


def test_bundle_predict_script_gives_the_engines_label(exported, tmp_path):
    bundle = unpack_bundle(exported["result"].files["bundle"], tmp_path / "bundle")
    test = exported["test"]
    images = [exported["root"] / path for path in test.paths[:4]]
    completed = subprocess.run([sys.executable, str(bundle / "predict.py"), *map(str, images)],
                               capture_output=True, text=True, check=True, timeout=120)
    lines = completed.stdout.strip().splitlines()
    engine_labels = exported["trainer"].predict_logits(test.images[:4]).argmax(1).tolist()
    assert len(lines) == 4
    for line, image, label in zip(lines, images, engine_labels, strict=True):
        path, predicted, confidence = line.split("\t")
        assert path == str(image)
        assert predicted == test.class_names[label]
        assert 0 < float(confidence) <= 1


def test_bundle_predict_reports_unreadable_files_and_fails(exported, tmp_path):
    bundle = unpack_bundle(exported["result"].files["bundle"], tmp_path / "bundle")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    completed = subprocess.run([sys.executable, str(bundle / "predict.py"), str(broken)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1
    assert "broken.png" in completed.stderr


def bundle_predict():
    """The bundle's predict.py, imported from its template."""
    spec = importlib.util.spec_from_file_location("bundle_predict", BUNDLE_TEMPLATES / "predict.py")
    predict = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(predict)
    return predict


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA"])
def test_predict_preprocessing_is_exactly_the_loaders(make_image_folder, mode):
    predict = bundle_predict()
    root = make_image_folder(classes=2, per_class=3, size=(13, 9), mode=mode)
    dataset = load_image_folder(root, resolution=11)
    for path, image in zip(dataset.paths, dataset.images, strict=True):
        channels, side, _ = dataset.input_shape
        pixels = predict.preprocess(root / path, side, channels)
        assert np.array_equal(pixels, image.numpy().astype(np.float32))


def test_predict_reads_awkward_photos_as_training_does(tmp_path):
    rng = np.random.default_rng(0)
    colour = Image.fromarray(rng.integers(0, 256, (30, 50, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: turn 90 degrees clockwise to show it upright
    colour.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "phone.jpg", exif=exif.tobytes())
    colour.convert("CMYK").save(tmp_path / "print.jpg")
    Image.fromarray(rng.integers(0, 65536, (40, 20), dtype=np.uint16)).save(tmp_path / "scan.png")  # I;16
    predict = bundle_predict()
    for name in ("phone.jpg", "print.jpg", "scan.png"):
        expected = preprocess_image(open_image(tmp_path / name), side=16, channels=3)
        assert np.array_equal(predict.preprocess(tmp_path / name, 16, 3), expected.astype(np.float32)), name
