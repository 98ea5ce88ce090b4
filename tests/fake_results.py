"""Results of the engine's own types (apps.nas.results) for tests that fake the engine."""

from apps.nas.leaderboard import plain_name
from apps.nas.results import (
    Baseline,
    BestModel,
    Candidate,
    ClassScores,
    CrossValidation,
    Mistake,
    ParetoPoint,
    Parity,
    SearchResult,
    Summary,
    TestReport,
)
from apps.runs.models import RUN_BEST_FIELDS

GENOTYPE = {"stem_width": 16, "activation": "relu",
            "stages": [{"depth": 1, "width": 16, "block": "plain", "kernel": 3, "expand": 1, "se": False}],
            "train": {"epochs": 2, "lr": 0.1, "batch_size": 64, "optimizer": "sgd", "dropout": 0.1}}
# A point of the engine's default SearchSpace: EfficientNet-Lite0 with its last 3 stages fine-tuned, an MLP head.
PRETRAINED_GENOTYPE = {"backbone": "lite0", "side": 96, "finetune": 3, "head_hidden": 256,
                       "train": {"optimizer": "adamw", "lr": 0.003, "weight_decay": 0.01, "dropout": 0.1,
                                 "batch_size": 32, "augment": 0.0, "flip": True, "label_smoothing": 0.1, "epochs": 30,
                                 "backbone_lr": 1e-4}}
PRETRAINED_SUMMARY = ("EfficientNet-Lite0 last 3 stages fine-tuned > MLP head 256 · 96 px · adamw lr 0.003 · bs 32 · "
                      "30 ep")


def fake_result(*, status: str = "finished", misclassified: list[Mistake] = (), pretrained: bool = False
                ) -> SearchResult:
    """A result of the engine's own types for a two-class, ten-image search with one candidate: a network from
    scratch on grey 28 px images and retrained, or a pretrained one on colour 128 px photos whose training continued
    for 4 more epochs on train+validation, chosen by 5-fold cross-validation."""
    costs = {"params": 1000, "flops": 10, "latency_ms": 0.5, "size_mb": 0.01}
    if pretrained:
        genotype, genotype_summary, input_shape = PRETRAINED_GENOTYPE, PRETRAINED_SUMMARY, [3, 128, 128]
        final_epochs = PRETRAINED_GENOTYPE["train"]["epochs"] + 4
        cross_validation = CrossValidation(accuracy=0.83, loss=0.4, folds=5, images=6)
    else:
        genotype, genotype_summary, input_shape = GENOTYPE, "plain 16", [1, 28, 28]
        final_epochs, cross_validation = 4, None
    return SearchResult(
        best=BestModel(trial_id=0, genotype=genotype, genotype_summary=genotype_summary, name=plain_name(genotype),
                       val_accuracy=0.8,
                       test_accuracy=0.75, retrained=not pretrained, final_epochs=final_epochs,
                       cross_validation=cross_validation, **costs),
        test_report=TestReport(accuracy=0.75, images=4, accuracy_low=0.3, accuracy_high=0.95, macro_f1=0.73,
                               per_class=[ClassScores("a", 1.0, 0.5, 0.67, 2), ClassScores("b", 0.67, 1.0, 0.8, 2)],
                               confusion=[[1, 1], [0, 2]]),
        leaderboard=[Candidate(id=0, status="complete", val_accuracy=0.8, seconds=1.0, epochs=2, planned_epochs=2,
                               reason="", genotype_summary=genotype_summary, name=plain_name(genotype),
                               genotype=genotype, origin="recipe",
                               cross_validation=cross_validation, **costs)],
        pareto_front=[ParetoPoint(id=0, val_accuracy=0.8, latency_ms=0.5, size_mb=0.01, params=1000,
                                  genotype_summary=genotype_summary)],
        summary=Summary(status=status, strategy="auto", seed=0, device="cpu", multi_fidelity=True, budget_seconds=60,
                        elapsed_seconds=12, candidates_trained=1, epochs_trained=2, training_seconds=1.0, best_trial=0,
                        best_val_accuracy=0.8, retrained=not pretrained, continued=pretrained, recipe_only=False,
                        input_shape=input_shape,
                        trials={"complete": 1}, constraints={}, splits={"train": 4, "val": 2, "test": 4},
                        onnx_parity=Parity(images=4, prediction_agreement=1.0, max_abs_logit_diff=1e-6)),
        baseline=Baseline(method="logistic regression on the pixels", test_accuracy=0.5),
        misclassified=list(misclassified),
    )


def fake_best(**overrides) -> dict:
    """What a run keeps of its best model (Run.best), from fake_result()."""
    best = fake_result().to_dict()["best"]
    return {**{key: best[key] for key in RUN_BEST_FIELDS}, **overrides}
