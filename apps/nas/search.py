"""run_search: from a dataset to a trained, exported best model within a wall-clock budget, resumable.

The search loop asks a strategy for a candidate, measures its size and CPU latency (a candidate over a limit is
skipped untrained), trains it with per-epoch checkpoints and early stopping, and tells the outcome back. Once a
candidate has finished, a share of the budget is kept for the end: the best candidate is retrained on
train+validation with its schedule stretched to fill that time (or, when even its own schedule does not fit, kept
as trained), scored once on the test split and exported. A strategy may instead, on a budget too small for a
search to pay, train its recipe alone on train+validation for the whole budget (auto does). Every step is
recorded in work_dir, so calling run_search again with the same work_dir continues a killed search where it
stopped.
"""

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from apps.nas import events
from apps.nas.baseline import linear_baseline_accuracy
from apps.nas.budget import (
    EXPORT_SECONDS,
    FINAL_TRAINING_SHARE,
    FINISH_SECONDS,
    MAX_FINAL_STRETCH,
    MAX_RETRAIN_SHARE,
    RETRAIN_MARGIN,
    Budget,
    SearchControl,
    check_budget,
    epochs_with_margin,
    recipe_epochs_replanned,
    recipe_only_epochs,
)
from apps.nas.build import build
from apps.nas.checkpoint import SearchFiles, load_torch, save_json_atomic, save_torch_atomic
from apps.nas.config import SearchConfig
from apps.nas.data import ImageDataset, load_image_folder, split_dataset
from apps.nas.estimate import CandidateResult, train_candidate
from apps.nas.export import export_model
from apps.nas.measure import count_flops, count_params, cpu_latency_ms, model_size_mb
from apps.nas.metrics import classification_report
from apps.nas.results import SearchResult, finished_pareto_front, genotype_summary, leaderboard
from apps.nas.space import baseline_genotype, with_epochs
from apps.nas.strategies import create_strategy
from apps.nas.strategies.base import fits_space
from apps.nas.train import WARMUP_FRACTION, EpochStats, Trainer, TrainingInterrupted

MAX_MISTAKES_SHOWN = 48
BASELINE_METHOD = "logistic regression on the pixels"
# The probe that times one epoch for the minimum-budget check trains on this many images at most.
PROBE_IMAGES = 256


def misclassified(test: ImageDataset, probabilities: torch.Tensor) -> list[dict]:
    """The test images the model got wrong, the most confidently wrong first (at most MAX_MISTAKES_SHOWN)."""
    confidence, predicted = (values.tolist() for values in probabilities.max(dim=1))
    truth = test.labels.tolist()
    wrong = sorted((i for i in range(len(truth)) if predicted[i] != truth[i]), key=lambda i: -confidence[i])
    return [{"path": test.paths[i], "true": test.class_names[truth[i]], "predicted": test.class_names[predicted[i]],
             "confidence": round(confidence[i], 4)} for i in wrong[:MAX_MISTAKES_SHOWN]]


@dataclass
class FinalModel:
    """The model a run exports, and the candidate it comes from."""

    trial: optuna.trial.FrozenTrial
    trainer: Trainer
    val_accuracy: float | None  # None: trained on train+validation from the start, nothing held out
    retrained: bool  # trained on train+validation (else: the candidate as the search trained it)
    epochs: int


class SearchFailed(RuntimeError):
    """No candidate could be trained (all failed or broke the limits); the message says why in plain words."""


def run_search(
    config: SearchConfig,
    data: ImageDataset | str | Path,
    work_dir: str | Path,
    *,
    on_event: Callable[[dict], None] | None = None,
    control: SearchControl | None = None,
) -> SearchResult:
    """Search for the best image classifier the budget allows, then retrain, test and export it.

    Args:
        config: budget, strategy, seed, deployment limits, search space.
        data: a loaded dataset, or a folder of class folders (loaded with load_image_folder).
        work_dir: where the search keeps its state and writes result.json and the exported model; calling
            run_search again with the same work_dir resumes a killed search.
        on_event: receives every event (see apps.nas.events) as a JSON-able dict.
        control: lets the caller cancel the search or extend its budget while it runs.

    Raises:
        DatasetError: the data cannot be used (empty, a single class, too few images).
        BudgetTooSmall: the budget cannot train and export even one candidate (raised before any training).
        SearchFailed: every candidate failed or broke the limits.
    """
    # Optuna logs every trial at INFO; the events already tell that story.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return Search(config, Path(work_dir), on_event, control).run(data)


def resolve_device(device: str) -> str:
    """ "auto" is CUDA when there is a GPU, else CPU; anything else is used as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def error_reason(error: BaseException) -> str:
    """Plain-words reason a candidate failed, for the leaderboard."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return "ran out of GPU memory, even with half the batch size"
    return f"{type(error).__name__}: {error}"


class Search:
    """The state of one run: its budget, files, data, strategy and the best candidate so far."""

    def __init__(self, config: SearchConfig, work_dir: Path, on_event, control):
        self.config = config
        self.work_dir = work_dir
        self.files = SearchFiles(work_dir)
        state = self.files.state()
        self.phase = state["phase"]
        self.budget = Budget(config.budget_seconds, used_before=state["seconds_used"], control=control)
        self.on_event = on_event
        self.finish_seconds = FINISH_SECONDS + (EXPORT_SECONDS if config.export else 0.0)
        self.device = resolve_device(config.device)
        self.best: dict | None = None  # trial, complete, val_accuracy, epoch_seconds of the kept best state

    # -- events and clock ---------------------------------------------------------------------------------------

    def emit(self, event: events.Event) -> None:
        event.elapsed_seconds = round(self.budget.elapsed(), 3)
        finished = isinstance(event, events.RunFinished)  # may end before the budget (max_trials, cancel)
        event.progress = 1.0 if finished else round(self.budget.progress(), 4)
        event.eta_seconds = 0.0 if finished else round(self.budget.remaining(), 1)
        self.files.save_state(seconds_used=self.budget.elapsed(), phase=self.phase)
        if self.on_event is not None:
            self.on_event(event.to_dict())

    def emit_epoch(self, trial_id: int, phase: str, total_epochs: int, stats: EpochStats) -> None:
        self.emit(events.EpochFinished(trial_id=trial_id, phase=phase, total_epochs=total_epochs, **asdict(stats)))

    def final_epoch_seconds(self) -> float:
        """Estimated seconds of one final-retrain epoch on train+validation (0: no fully trained best yet)."""
        if not self.config.final_retrain or self.best is None or not self.best["complete"]:
            return 0.0
        growth = (len(self.splits.train) + len(self.splits.val)) / len(self.splits.train)
        return self.best["epoch_seconds"] * growth

    def search_deadline(self) -> float:
        """Elapsed seconds at which the search stops, leaving time for the final retrain (if planned) and export."""
        total = self.budget.total()
        retrain = RETRAIN_MARGIN * self.final_epoch_seconds() * (self.best["epochs"] if self.best else 0)
        if not 0 < retrain <= MAX_RETRAIN_SHARE * total:
            return total - self.finish_seconds  # no retrain planned: the search keeps the time
        # At least the plain retrain, ideally FINAL_TRAINING_SHARE, never more than the stretched schedule can use.
        reserve = max(retrain, min(FINAL_TRAINING_SHARE * total, MAX_FINAL_STRETCH * retrain))
        return total - self.finish_seconds - reserve

    def final_epochs(self, genotype: dict) -> int:
        """Epochs of the final retrain: the searched schedule stretched to fill the time left; 0 if it does not fit."""
        searched = genotype["train"]["epochs"]
        epoch_seconds = self.final_epoch_seconds()
        available = self.training_seconds_left()
        if epoch_seconds == 0 or available < searched * epoch_seconds:
            return 0
        # The search stopped RETRAIN_MARGIN early for the searched schedule; the stretch keeps that margin too.
        stretched = epochs_with_margin(available, epoch_seconds)
        return max(searched, min(stretched, MAX_FINAL_STRETCH * searched))

    def training_seconds_left(self) -> float:
        """Seconds a final training may still use: the rest of the budget less the end of the run."""
        return self.budget.remaining() - self.finish_seconds

    def out_of_search_time(self) -> bool:
        return self.budget.cancelled() or self.budget.elapsed() >= self.search_deadline()

    def out_of_final_time(self) -> bool:
        """The retrain must leave the end of the run its time: past this, the best candidate is exported as trained."""
        return self.budget.cancelled() or self.training_seconds_left() <= 0

    # -- the run ------------------------------------------------------------------------------------------------

    def run(self, data: ImageDataset | str | Path) -> SearchResult:
        resumed = self.files.started()
        dataset = data if isinstance(data, ImageDataset) else load_image_folder(data, self.config.resolution)
        self.splits = split_dataset(
            dataset, seed=self.config.seed, val_fraction=self.config.val_fraction,
            test_fraction=self.config.test_fraction,
        )
        if not resumed:
            epoch_seconds = self.probe_epoch_seconds()
            check_budget(self.budget, epoch_seconds=epoch_seconds, finish_seconds=self.finish_seconds)
        self.strategy = create_strategy(
            self.config.strategy, storage=self.files.storage(), space=self.config.space, seed=self.config.seed,
            multi_fidelity=self.config.multi_fidelity, baseline=baseline_genotype(),
        )
        self.study = self.strategy.study
        self.best = self.load_best()
        self.emit(events.RunStarted(
            strategy=self.config.strategy, budget_seconds=self.budget.total(), device=self.device,
            seed=self.config.seed, resumed=resumed, dataset=self.dataset_summary(dataset),
            constraints=asdict(self.config.constraints), multi_fidelity=self.strategy.multi_fidelity,
        ))
        if not resumed and (epochs := self.recipe_only_plan(epoch_seconds)):
            self.start_recipe_only(epochs)
        if self.phase == "search":
            self.search()
            self.phase = "final"
        return self.finish()

    def probe_epoch_seconds(self) -> float:
        """Seconds one epoch of a typical candidate takes on the whole training split, timed on a slice of it."""
        train, val = self.splits.train, self.splits.val
        recipe = baseline_genotype()
        # The recipe auto starts from; in a space that excludes it, a candidate drawn from the space instead.
        genotype = recipe if fits_space(self.config.space, recipe) else self.config.space.sample(
            random.Random(self.config.seed))
        probe = with_epochs(genotype, 2)
        n_train, n_val = min(len(train), PROBE_IMAGES), min(len(val), PROBE_IMAGES)
        trainer = Trainer(probe, train.subset(list(range(n_train))), val.subset(list(range(n_val))),
                          device=self.device, seed=self.config.seed)
        # The first pass pays one-off setup (oneDNN picks its kernels); timing it overestimated MNIST's epoch 3x.
        trainer.run_epoch()
        started = time.monotonic()
        trainer.run_epoch()
        return (time.monotonic() - started) * len(train) / n_train

    def recipe_only_plan(self, epoch_seconds: float) -> int:
        """Epochs of the recipe on train+validation that the whole budget buys, when that budget is too small for
        a search to pay (see budget.recipe_only_epochs); 0 when the search runs.

        Args:
            epoch_seconds: the probe's time for one epoch of the recipe on the training split.
        """
        recipe = self.strategy.baseline
        if not (self.strategy.recipe_on_small_budgets and self.config.final_retrain and recipe is not None
                and fits_space(self.config.space, recipe)):
            return 0
        growth = (len(self.splits.train) + len(self.splits.val)) / len(self.splits.train)
        return recipe_only_epochs(available_seconds=self.training_seconds_left(),
                                  epoch_seconds=epoch_seconds * growth)

    def start_recipe_only(self, epochs: int) -> None:
        """Make the recipe the run's one candidate, to be trained on train+validation for `epochs` by finish().

        Nothing is held out to choose between candidates when there is one, so it has no validation accuracy;
        the test split still scores it. A recipe over a deployment limit is recorded as such and the search runs.
        """
        trial, genotype = self.strategy.ask()  # a strategy with recipe_on_small_budgets asks for its recipe first
        measured = self.measure_within_limits(trial, genotype)
        if measured is None:
            return
        trial.set_user_attr("final_epochs", epochs)
        self.phase = "recipe"
        self.emit(events.TrialStarted(
            trial_id=trial.number, genotype_summary=genotype_summary(with_epochs(genotype, epochs)), genotype=genotype,
            epochs=epochs, device=self.device, **measured,
        ))

    def dataset_summary(self, dataset: ImageDataset) -> dict:
        return {
            "num_images": len(dataset), "num_classes": dataset.num_classes, "class_names": dataset.class_names,
            "input_shape": list(dataset.input_shape),
            "splits": {name: len(getattr(self.splits, name)) for name in ("train", "val", "test")},
            "skipped": [list(item) for item in dataset.skipped],
        }

    def search(self) -> None:
        # A killed run left its candidate RUNNING: continue it from its last epoch checkpoint.
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            # Optuna re-attaches to a trial by its storage id (there is no public lookup by number).
            trial = optuna.trial.Trial(self.study, frozen._trial_id)
            if "genotype" in frozen.user_attrs:
                self.evaluate(trial, frozen.user_attrs["genotype"], resume=True)
            else:
                trial.set_user_attr("reason", "the process stopped before the candidate was chosen")
                self.strategy.tell(trial, "failed")
        while not self.out_of_search_time() and not self.reached_max_trials():
            trial, genotype = self.strategy.ask()
            self.evaluate(trial, genotype)

    def reached_max_trials(self) -> bool:
        if self.config.max_trials is None:
            return False
        trained = [t for t in self.study.trials if t.user_attrs.get("status") not in (None, "infeasible")]
        return len(trained) >= self.config.max_trials

    # -- one candidate ------------------------------------------------------------------------------------------

    def measure(self, genotype: dict) -> dict:
        """Parameters, FLOPs, CPU latency and size, from a freshly built model (before any training)."""
        model = build(genotype, self.splits.train.input_shape, self.splits.train.num_classes)
        shape = self.splits.train.input_shape
        return {"params": count_params(model), "flops": count_flops(model, shape),
                "latency_ms": cpu_latency_ms(model, shape), "size_mb": model_size_mb(model)}

    def measure_within_limits(self, trial: optuna.Trial, genotype: dict) -> dict | None:
        """The candidate's measurements, or None (recorded and reported) when it breaks a deployment limit."""
        measured = self.measure(genotype)
        trial.set_user_attr("measurements", measured)
        violations = self.config.constraints.violations(
            params=measured["params"], size_mb=measured["size_mb"], latency_ms=measured["latency_ms"]
        )
        if not violations:
            return measured
        reason = "breaks the deployment limits: " + "; ".join(violations)
        trial.set_user_attr("reason", reason)
        self.strategy.tell(trial, "infeasible")
        self.emit(events.TrialPruned(trial_id=trial.number, reason=reason, val_accuracy=None, epochs=0,
                                     seconds=0.0, infeasible=True))
        return None

    def evaluate(self, trial: optuna.Trial, genotype: dict, *, resume: bool = False) -> None:
        """Measure, check the limits, train and tell the outcome of one candidate; failures are recorded."""
        started = time.monotonic()
        number = trial.number
        try:
            measured = self.measure_within_limits(trial, genotype)
        except Exception as error:  # a candidate the space allows but the builder rejects: record, go on
            return self.record_failure(trial, error, started)
        if measured is None:
            return
        checkpoint = load_torch(self.files.trial_path(number)) if resume else None
        self.emit(events.TrialStarted(
            trial_id=number, genotype_summary=genotype_summary(genotype), genotype=genotype,
            epochs=genotype["train"]["epochs"], device=self.device,
            resumed_from_epoch=len(checkpoint["curve"]) if checkpoint else 0, **measured,
        ))
        try:
            result = self.train(trial, genotype, checkpoint)
        except Exception as error:  # e.g. out of memory twice: record it and let the search go on
            return self.record_failure(trial, error, started)
        # The curve is stored once, at the end: the checkpoint holds it meanwhile, and rewriting it after every
        # epoch would grow the journal quadratically.
        trial.set_user_attr("curve", result.curve)
        trial.set_user_attr("seconds", round(result.seconds, 3))
        if result.reason:
            trial.set_user_attr("reason", result.reason)
        self.strategy.tell(trial, result.status, result.val_accuracy)
        if result.status == "complete":
            self.emit(events.TrialFinished(trial_id=number, val_accuracy=result.val_accuracy,
                                           epochs=len(result.curve), seconds=result.seconds, **measured))
        else:
            self.emit(events.TrialPruned(trial_id=number, reason=result.reason, val_accuracy=result.val_accuracy,
                                         epochs=len(result.curve), seconds=result.seconds))
        self.keep_if_best(number, genotype, result, measured)

    def train(self, trial: optuna.Trial, genotype: dict, checkpoint: dict | None) -> CandidateResult:
        """Train with early stopping; on CUDA out-of-memory, retry once from scratch with half the batch size."""
        for attempt in (1, 2):
            try:
                trainer = Trainer(genotype, self.splits.train, self.splits.val, device=self.device,
                                  seed=self.config.seed + trial.number, should_stop=self.out_of_search_time)
                curve = []
                if checkpoint is not None:
                    trainer.load_state_dict(checkpoint["trainer"])
                    curve = checkpoint["curve"]
                return train_candidate(
                    trial, trainer, checkpoint_path=self.files.trial_path(trial.number), curve=curve,
                    pruning=self.strategy.multi_fidelity, stop_reason=self.stop_reason,
                    on_epoch=partial(self.emit_epoch, trial.number, "search", trainer.total_epochs),
                )
            except torch.cuda.OutOfMemoryError:
                if attempt == 2 or genotype["train"]["batch_size"] < 2:
                    raise
                torch.cuda.empty_cache()
                genotype = {**genotype, "train": {**genotype["train"],
                                                  "batch_size": genotype["train"]["batch_size"] // 2}}
                trial.set_user_attr("genotype", genotype)
                trial.set_user_attr("note", "batch size halved after running out of GPU memory")
                checkpoint = None
        raise AssertionError("unreachable")

    def stop_reason(self, seconds_needed: float) -> str | None:
        """Why a running candidate must stop now (cancelled, out of time, cannot finish in time), or None."""
        if self.budget.cancelled():
            return "stopped: the search was cancelled"
        if self.budget.elapsed() >= self.search_deadline():
            return "stopped: the search budget ran out"
        # Once there is a fully trained candidate, do not spend the rest of the budget on one that cannot finish.
        if self.best and self.best["complete"] and self.budget.elapsed() + seconds_needed > self.search_deadline():
            return "stopped: it would not finish in the time left"
        return None

    def record_failure(self, trial: optuna.Trial, error: Exception, started: float) -> None:
        reason = error_reason(error)
        trial.set_user_attr("reason", reason)
        self.strategy.tell(trial, "failed")
        self.files.discard_trial(trial.number)
        self.emit(events.TrialFailed(trial_id=trial.number, reason=reason, seconds=time.monotonic() - started))

    def keep_if_best(self, number: int, genotype: dict, result: CandidateResult, measured: dict) -> None:
        """Keep the candidate's trained state when it beats the best so far (fully trained ones rank first)."""
        if not result.curve:
            return self.files.discard_trial(number)
        complete = result.status == "complete"
        if self.best is not None and (complete, result.val_accuracy) <= (self.best["complete"],
                                                                          self.best["val_accuracy"]):
            return self.files.discard_trial(number)
        self.files.keep_as_best(number)
        self.best = self.best_entry(number, complete, result.curve)
        self.emit(events.NewBest(trial_id=number, val_accuracy=result.val_accuracy,
                                 genotype_summary=genotype_summary(genotype), params=measured["params"],
                                 latency_ms=measured["latency_ms"]))

    @staticmethod
    def best_entry(number: int, complete: bool, curve: list[dict]) -> dict:
        return {"trial": number, "complete": complete, "val_accuracy": curve[-1]["val_accuracy"],
                "epochs": len(curve), "epoch_seconds": sum(s["seconds"] for s in curve) / len(curve)}

    def load_best(self) -> dict | None:
        """The best candidate recorded by an earlier attempt of this run (None for a fresh run)."""
        state = load_torch(self.files.best_trial_path)
        if state is None:
            return None
        complete = self.study.trials[state["trial"]].state == TrialState.COMPLETE
        return self.best_entry(state["trial"], complete, state["curve"])

    # -- the end: retrain, test, export -------------------------------------------------------------------------

    def finish(self) -> SearchResult:
        final = self.train_recipe_alone() if self.phase == "recipe" else self.final_model()
        trainer, frozen = final.trainer, final.trial
        genotype = frozen.user_attrs["genotype"]
        test = self.splits.test
        probabilities = trainer.predict_logits(test.images).softmax(dim=1).cpu()  # (N, classes)
        predictions = probabilities.argmax(dim=1)
        report = classification_report(test.labels.tolist(), predictions.tolist(), test.class_names)
        baseline = {"method": BASELINE_METHOD, "test_accuracy": linear_baseline_accuracy(
            ImageDataset.concat(self.splits.train, self.splits.val), test, seed=self.config.seed)}
        rows = leaderboard(self.study.trials)
        measured = frozen.user_attrs["measurements"]
        best = {"trial_id": frozen.number, "genotype": genotype, "genotype_summary": genotype_summary(genotype),
                "val_accuracy": final.val_accuracy, "test_accuracy": report["accuracy"],
                "retrained": final.retrained, "final_epochs": final.epochs, **measured}
        summary = self.summary(rows, self.budget.cancelled(), final.retrained, best)
        files, parity = {}, None
        if self.config.export:
            exported = export_model(
                trainer.model, trainer.genotype, class_names=test.class_names, input_shape=test.input_shape, test=test,
                out_dir=self.work_dir, report=report, search_summary=summary,
            )
            files, parity = exported["files"], exported["onnx_parity"]
        summary["onnx_parity"] = parity
        summary["elapsed_seconds"] = round(self.budget.elapsed(), 2)
        result = SearchResult(best=best, test_report=report, leaderboard=rows,
                              pareto_front=finished_pareto_front(rows), files=files, summary=summary,
                              misclassified=misclassified(test, probabilities), baseline=baseline)
        save_json_atomic(result.to_dict(), self.work_dir / "result.json")
        self.emit(events.RunFinished(
            status=summary["status"], best_trial_id=frozen.number, val_accuracy=best["val_accuracy"],
            test_accuracy=report["accuracy"], trials=summary["trials"], files=files,
        ))
        return result

    def final_model(self) -> FinalModel:
        """The best candidate retrained on train+validation when that fits in the time left, else as trained."""
        best_state = load_torch(self.files.best_trial_path)
        if best_state is None:
            raise SearchFailed(self.failure_message())
        frozen = self.study.trials[best_state["trial"]]
        genotype = frozen.user_attrs["genotype"]
        cancelled = self.budget.cancelled()
        # A killed run continues its final retrain with the schedule it had chosen.
        earlier = load_torch(self.files.final_path)
        epochs = 0 if cancelled else earlier["epochs"] if earlier else self.final_epochs(genotype)
        reason = (f"retraining it on training + validation images for {epochs} epochs" if epochs else
                  "cancelled: exporting the best candidate as trained" if cancelled else
                  "retraining is off" if not self.config.final_retrain else
                  "too little time left to retrain: exporting the best candidate as trained")
        trained = with_epochs(genotype, epochs) if epochs else genotype
        self.emit(events.FinalTrainingStarted(
            trial_id=frozen.number, genotype_summary=genotype_summary(trained), retrain=epochs > 0, epochs=epochs,
            reason=reason,
        ))
        val_accuracy = best_state["curve"][-1]["val_accuracy"]
        if epochs:
            trainer, _ = self.retrain(frozen.number, genotype, epochs, earlier)
            # Shortened to fit the time left, it must still train at least the searched schedule to be the better
            # model; else the candidate as the search trained it is.
            if trainer.epochs_done == trainer.total_epochs >= genotype["train"]["epochs"]:
                return FinalModel(frozen, trainer, val_accuracy, retrained=True, epochs=trainer.epochs_done)
        trainer = Trainer(genotype, self.splits.train, self.splits.val, device=self.device,
                          seed=self.config.seed + frozen.number)
        trainer.load_state_dict(best_state["trainer"])
        return FinalModel(frozen, trainer, val_accuracy, retrained=False, epochs=len(best_state["curve"]))

    def train_recipe_alone(self) -> FinalModel:
        """The recipe chosen by start_recipe_only, trained on train+validation; as trained so far if stopped."""
        frozen = self.study.trials[0]  # start_recipe_only asked for it first
        genotype = frozen.user_attrs["genotype"]
        earlier = load_torch(self.files.final_path)
        epochs = earlier["epochs"] if earlier else frozen.user_attrs["final_epochs"]
        self.emit(events.FinalTrainingStarted(
            trial_id=frozen.number, genotype_summary=genotype_summary(with_epochs(genotype, epochs)), retrain=True,
            epochs=epochs, recipe_only=True,
            reason="this budget is too short for a search to beat the proven recipe: training it alone on training + "
                   f"validation images for {epochs} epochs",
        ))
        trainer, curve = self.retrain(frozen.number, genotype, epochs, earlier, replan=True)
        seconds = round(sum(stats["seconds"] for stats in curve), 3)
        if frozen.state == TrialState.RUNNING:  # else a killed attempt of this run recorded it already
            trial = optuna.trial.Trial(self.study, frozen._trial_id)
            trial.set_user_attr("curve", curve)
            trial.set_user_attr("seconds", seconds)
            trial.set_user_attr("reason", "trained on training + validation images: nothing held out to validate it")
            trial.set_user_attr("status", "complete")
            self.study.tell(trial, state=TrialState.PRUNED)  # Optuna ranks by validation accuracy; it has none
        self.emit(events.TrialFinished(trial_id=frozen.number, val_accuracy=None, epochs=len(curve), seconds=seconds,
                                       **frozen.user_attrs["measurements"]))
        return FinalModel(frozen, trainer, None, retrained=True, epochs=len(curve))

    def retrain(self, number: int, genotype: dict, epochs: int, earlier: dict | None, *,
                replan: bool = False) -> tuple[Trainer, list[dict]]:
        """The genotype trained from scratch on train+validation, and its curve; fewer epochs when time ran out.

        Args:
            number: the candidate's trial number (for events).
            genotype: its genotype.
            epochs: the final training's epochs (its schedule spans them).
            earlier: the final training's checkpoint from a killed attempt of this run, or None.
            replan: while the learning rate warms up, plan the epochs again from the fastest real epoch so far (the
                recipe alone was planned from the probe, which also timed validation, on a slice: 1.5-2x pessimistic;
                and one epoch slowed by other work must not shorten the whole plan).
        """
        trainer = Trainer(with_epochs(genotype, epochs),
                          ImageDataset.concat(self.splits.train, self.splits.val), None,
                          device=self.device, seed=self.config.seed, should_stop=self.out_of_final_time)
        curve, epoch_seconds = [], []
        if earlier is not None:
            trainer.load_state_dict(earlier["trainer"])
            curve = earlier["curve"]
        try:
            while trainer.epochs_done < trainer.total_epochs:
                started = time.monotonic()
                stats = trainer.run_epoch()
                curve.append(asdict(stats))
                save_torch_atomic({"trainer": trainer.state_dict(), "epochs": trainer.total_epochs, "curve": curve},
                                  self.files.final_path)
                self.emit_epoch(number, "final", trainer.total_epochs, stats)
                epoch_seconds.append(time.monotonic() - started)
                if replan and trainer.epochs_done <= WARMUP_FRACTION * trainer.total_epochs:
                    trainer.total_epochs = recipe_epochs_replanned(
                        epochs_done=trainer.epochs_done, seconds_left=self.training_seconds_left(),
                        epoch_seconds=min(epoch_seconds))
                trainer.total_epochs = self.epochs_that_fit(trainer, epoch_seconds[-1])
        except TrainingInterrupted:
            pass
        return trainer, curve

    def epochs_that_fit(self, trainer: Trainer, epoch_seconds: float) -> int:
        """The trainer's planned epochs, or fewer when the rest would overrun the end of the run (the plan was too
        hopeful, or the machine got busier): the learning-rate schedule then still ends at zero, on time.

        Args:
            trainer: the final training, after an epoch.
            epoch_seconds: that epoch's wall time, checkpoint and event included.
        """
        time_left = self.training_seconds_left()
        fit = trainer.epochs_done + int(time_left / epoch_seconds)
        return max(trainer.epochs_done, min(trainer.total_epochs, fit))

    def summary(self, rows: list[dict], cancelled: bool, retrained: bool, best: dict) -> dict:
        """Facts about the run; the flat ones also go into the model card's search table."""
        return {
            "status": "cancelled" if cancelled else "finished",
            "strategy": self.config.strategy, "seed": self.config.seed, "device": self.device,
            "multi_fidelity": self.strategy.multi_fidelity, "budget_seconds": self.budget.total(),
            "elapsed_seconds": round(self.budget.elapsed(), 2),
            "candidates_trained": sum(1 for row in rows if row["epochs"]),
            "epochs_trained": sum(row["epochs"] for row in rows),
            # The candidates' training (the recipe's, when it trained alone), not a final retrain's.
            "training_seconds": round(sum(row["seconds"] for row in rows), 2),
            "best_trial": best["trial_id"], "best_val_accuracy": best["val_accuracy"], "retrained": retrained,
            "recipe_only": self.phase == "recipe",  # auto trained its recipe alone: too short a budget to search
            "trials": dict(Counter(row["status"] for row in rows)),
            "constraints": asdict(self.config.constraints),
            "splits": {name: len(getattr(self.splits, name)) for name in ("train", "val", "test")},
        }

    def failure_message(self) -> str:
        reasons = [t.user_attrs.get("reason", "") for t in self.study.trials]
        if reasons and all(reason.startswith("breaks the deployment limits") for reason in reasons):
            return (f"Every candidate ({len(reasons)}) broke the deployment limits, for example: {reasons[-1]}. "
                    "Relax the limits (more parameters, a larger model size or a higher latency) and try again.")
        if not reasons:
            return "The budget ran out before any candidate could be trained. Give the search more time."
        detail = next((r for r in reversed(reasons) if r), "no reason recorded")
        return f"No candidate could be trained ({len(reasons)} tried); the last problem: {detail}."
