"""The end of a run: the final model's training, its one score on the test split, the export and the result.

After the search, the best candidate is retrained on train+validation with its schedule stretched to fill the
time kept for it; when even its own schedule no longer fits (a fine-tuned start point that took half the budget),
its own training continues on train+validation, at lower rates, for the epochs that fit; else it is kept as
trained. On a budget too small for a search to pay, auto instead trains its recipe alone on train+validation for
the whole budget. Either way the final training checkpoints every epoch, so a killed run continues it.
"""

import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import NamedTuple

import optuna
import torch
from optuna.trial import TrialState

from apps.nas import data_parallel, events
from apps.nas.baseline import linear_baseline_accuracy
from apps.nas.budget import (
    CONTINUED_LR_SHARE,
    MAX_FINAL_STRETCH,
    RECIPE_ONLY_MAX_EPOCHS,
    continued_steps,
    final_epochs,
    steps_that_fit,
)
from apps.nas.checkpoint import load_torch, save_json_atomic, save_torch_atomic
from apps.nas.data import ImageDataset
from apps.nas.export import export_model
from apps.nas.final_group import helping_slots, meet_helpers
from apps.nas.leaderboard import (
    cross_validation,
    finished_pareto_front,
    genotype_summary,
    leaderboard,
    plain_name,
)
from apps.nas.metrics import classification_report
from apps.nas.names import ARTIFACT_FILES
from apps.nas.results import Baseline, BestModel, Candidate, Mistake, SearchResult, Summary
from apps.nas.space import with_epochs
from apps.nas.state import RunState
from apps.nas.train import Trainer, TrainingInterrupted, steps_per_epoch

MAX_MISTAKES_SHOWN = 48
# How many of a final training's latest epochs its time per epoch is judged on.
RECENT_EPOCHS = 5
BASELINE_METHOD = "logistic regression on the pixels"


class SearchFailed(RuntimeError):
    """No candidate could be trained (all failed or broke the limits); the message says why in plain words."""


@dataclass
class FinalModel:
    """The model a run exports, and the candidate it comes from."""

    trial: optuna.trial.FrozenTrial
    trainer: Trainer
    val_accuracy: float | None  # None: trained on train+validation from the start, nothing held out
    retrained: bool  # trained again from scratch on train+validation
    epochs: int
    continued: bool = False  # the candidate's own training continued on train+validation


def finish_run(run: RunState) -> SearchResult:
    """Train the final model, score it once on the test split, export it and write result.json."""
    final = train_recipe_alone(run) if run.phase == "recipe" else final_model(run)
    trainer, frozen = final.trainer, final.trial
    genotype = frozen.user_attrs["genotype"]
    test = run.splits.test
    probabilities = trainer.predict_logits(test.images).softmax(dim=1).cpu()  # (N, classes)
    report = classification_report(test.labels.tolist(), probabilities.argmax(dim=1).tolist(), test.class_names)
    baseline = Baseline(method=BASELINE_METHOD, test_accuracy=linear_baseline_accuracy(
        run.splits.train_and_val, test, seed=run.config.seed))
    rows = leaderboard(run.study.trials)
    summary = run_summary(run, rows, final)
    files, costs = {}, frozen.user_attrs["measurements"]
    run.budget.confirm_ownership()
    if run.config.export:
        exported = export_model(trainer.model, genotype, class_names=test.class_names, input_shape=test.input_shape,
                                test=test, out_dir=run.work_dir, report=report, summary=summary)
        # The shipped model measured again: the figure shown is the exported model's.
        files, costs, summary.onnx_parity = exported.files, exported.model_facts, exported.parity
    summary.elapsed_seconds = round(run.budget.elapsed(), 2)
    best = BestModel(trial_id=frozen.number, genotype=genotype, genotype_summary=genotype_summary(genotype),
                     name=plain_name(genotype),
                     val_accuracy=final.val_accuracy, test_accuracy=report.accuracy, retrained=final.retrained,
                     final_epochs=final.epochs, cross_validation=cross_validation(frozen), **costs)
    result = SearchResult(best=best, test_report=report, leaderboard=rows, pareto_front=finished_pareto_front(rows),
                          summary=summary, baseline=baseline, misclassified=misclassified(test, probabilities),
                          files=files)
    run.budget.confirm_ownership()
    save_json_atomic(result.to_dict(), run.work_dir / ARTIFACT_FILES["result"])
    run.emit(events.RunFinished(
        status=summary.status, best_trial_id=frozen.number, val_accuracy=best.val_accuracy,
        test_accuracy=report.accuracy, trials=summary.trials, files=files,
    ))
    return result


def misclassified(test: ImageDataset, probabilities: torch.Tensor) -> list[Mistake]:
    """The test images the model got wrong, the most confidently wrong first (at most MAX_MISTAKES_SHOWN)."""
    confidence, predicted = (values.tolist() for values in probabilities.max(dim=1))
    truth = test.labels.tolist()
    wrong = sorted((i for i in range(len(truth)) if predicted[i] != truth[i]), key=lambda i: -confidence[i])
    return [Mistake(path=test.paths[i], true=test.class_names[truth[i]], predicted=test.class_names[predicted[i]],
                    confidence=round(confidence[i], 4)) for i in wrong[:MAX_MISTAKES_SHOWN]]


def run_summary(run: RunState, rows: list[Candidate], final: FinalModel) -> Summary:
    return Summary(
        status="cancelled" if run.budget.cancelled() else "finished",
        strategy=run.config.strategy, seed=run.config.seed, device=run.device,
        multi_fidelity=run.strategy.multi_fidelity, budget_seconds=run.budget.total(),
        elapsed_seconds=round(run.budget.elapsed(), 2),
        candidates_trained=sum(1 for row in rows if row.epochs),
        epochs_trained=sum(row.epochs for row in rows),
        training_seconds=round(sum(row.seconds for row in rows), 2),
        best_trial=final.trial.number, best_val_accuracy=final.val_accuracy, retrained=final.retrained,
        continued=final.continued,
        recipe_only=run.phase == "recipe", input_shape=list(run.splits.test.input_shape),
        trials=dict(Counter(row.status for row in rows)), constraints=asdict(run.config.constraints),
        splits=run.split_sizes(),
    )


def final_model(run: RunState) -> FinalModel:
    """The best candidate retrained on train+validation when that fits in the time left, else its training continued
    on train+validation for the epochs that fit, else as trained."""
    best_state = load_torch(run.files.best_trial_path)
    if best_state is None:
        meet_helpers(run, {}, {})  # the waiting slots go
        raise SearchFailed(failure_message(run.study.trials))
    frozen = run.study.trials[best_state["trial"]]
    genotype = frozen.user_attrs["genotype"]
    searched_epochs = len(best_state["curve"])
    cancelled = run.budget.cancelled()
    # A killed run continues its final training with the plan it had chosen, alone.
    earlier = load_torch(run.files.final_path)
    helpers = {} if cancelled or earlier else helping_slots(run)
    epochs, continued, steps = FinalPlan(0) if cancelled else (
        FinalPlan(earlier["epochs"], earlier.get("continued", False)) if earlier else
        final_plan(run, frozen, processes=1 + len(helpers)))
    group = meet_helpers(run, helpers, {"trial": frozen.number, "epochs": epochs} if epochs and not continued else {})
    reason = (f"continuing its training on training + validation images for {continued_length(epochs, steps)}"
              if continued else
              f"retraining it on training + validation images for {epochs} epochs" if epochs else
              "cancelled: exporting the best candidate as trained" if cancelled else
              "retraining is off" if not run.config.final_retrain else
              "too little time left to retrain: exporting the best candidate as trained")
    trained = with_epochs(genotype, epochs) if epochs and not continued else genotype
    run.emit(events.FinalTrainingStarted(
        trial_id=frozen.number, name=plain_name(genotype), genotype_summary=genotype_summary(trained),
        retrain=epochs > 0, epochs=epochs, reason=reason,
    ))
    val_accuracy = best_state["curve"][-1]["val_accuracy"]
    if continued:
        trainer, _ = retrain(run, frozen.number, continued_genotype(genotype, epochs), epochs, earlier,
                             most_epochs=genotype["train"]["epochs"], start_from=best_state["trainer"]["model"],
                             steps=steps)
        # Stopped mid-epoch, its learning rate had not come down: the candidate as trained is the better model.
        if trainer.epochs_done == trainer.total_epochs > 0:
            return FinalModel(frozen, trainer, val_accuracy, retrained=False, continued=True,
                              epochs=searched_epochs + trainer.epochs_done)
    elif epochs:
        trainer, _ = retrain(run, frozen.number, genotype, epochs, earlier, most_epochs=most_final_epochs(frozen),
                             group=group)
        # Shortened to fit the time left, it must still train at least the searched schedule to be the better
        # model; else the candidate as the search trained it is.
        if trainer.epochs_done == trainer.total_epochs and (
                trainer.schedule_steps >= genotype["train"]["epochs"] * trainer.steps_per_epoch):
            return FinalModel(frozen, trainer, val_accuracy, retrained=True, epochs=trainer.epochs_done)
    trainer = Trainer(genotype, run.splits.train, run.splits.val, device=run.device,
                      seed=run.config.seed + frozen.number, features=run.features)
    trainer.load_state_dict(best_state["trainer"])
    return FinalModel(frozen, trainer, val_accuracy, retrained=False, epochs=searched_epochs)


def most_final_epochs(best: optuna.trial.FrozenTrial) -> int:
    """The longest schedule the best candidate's retrain from scratch may have: its searched schedule stretched
    MAX_FINAL_STRETCH times; auto's recipe keeps gaining from longer training up to about RECIPE_ONLY_MAX_EPOCHS
    (see budget.py)."""
    if best.user_attrs.get("origin") == "recipe":
        return RECIPE_ONLY_MAX_EPOCHS
    return MAX_FINAL_STRETCH * best.user_attrs["genotype"]["train"]["epochs"]


class FinalPlan(NamedTuple):
    """The best candidate's final training: a retrain from scratch for `epochs`, or its own training continued for
    `epochs`, the last of them partial where `steps` says so; 0 epochs when neither fits."""

    epochs: int
    continued: bool = False
    steps: int | None = None  # a continued training's batches, where its last epoch is partial; None: whole epochs


def final_plan(run: RunState, best: optuna.trial.FrozenTrial, *, processes: int) -> FinalPlan:
    """The final training by `processes`: a retrain from scratch stretched to fill the time left, or, when that no
    longer fits, its own training continued for what the time left buys."""
    genotype = best.user_attrs["genotype"]
    searched_epochs = genotype["train"]["epochs"]
    seconds_left = run.clock.training_seconds_left()
    if epochs := final_epochs(searched_epochs=searched_epochs, epoch_seconds=run.clock.final_epoch_seconds(processes),
                              seconds_left=seconds_left, most_epochs=most_final_epochs(best)):
        return FinalPlan(epochs)
    # A continued training is the coordinator's alone.
    per_epoch = steps_per_epoch(len(run.splits.train_and_val), genotype["train"]["batch_size"])
    steps = continued_steps(searched_epochs=searched_epochs, epoch_seconds=run.clock.final_epoch_seconds(1),
                            seconds_left=seconds_left, steps_per_epoch=per_epoch)
    if not steps:
        return FinalPlan(0)
    whole, partial = divmod(steps, per_epoch)
    return FinalPlan(whole + (partial > 0), continued=True, steps=steps if partial else None)


def continued_length(epochs: int, steps: int | None) -> str:
    """How long a continued training runs, in words: "3 more epochs" (the last may be partial), or "part of an
    epoch" when its time buys less than one."""
    if epochs == 1 and steps is not None:
        return "part of an epoch"
    return f"{epochs} more epoch{'s' if epochs > 1 else ''}"


def continued_genotype(genotype: dict, epochs: int) -> dict:
    """The genotype as its continued training runs: a schedule of `epochs` at CONTINUED_LR_SHARE of its rates."""
    train = with_epochs(genotype, epochs)["train"]
    rates = {name: train[name] * CONTINUED_LR_SHARE for name in ("lr", "backbone_lr") if name in train}
    return {**genotype, "train": {**train, **rates}}


def train_recipe_alone(run: RunState) -> FinalModel:
    """The recipe chosen by the search's start_recipe_only, trained on train+validation; as trained so far if
    stopped."""
    frozen = run.study.trials[0]  # start_recipe_only asked for it first
    genotype = frozen.user_attrs["genotype"]
    earlier = load_torch(run.files.final_path)
    epochs = earlier["epochs"] if earlier else frozen.user_attrs["final_epochs"]
    run.emit(events.FinalTrainingStarted(
        trial_id=frozen.number, name=plain_name(genotype),
        genotype_summary=genotype_summary(with_epochs(genotype, epochs)), retrain=True, epochs=epochs, recipe_only=True,
        reason="this budget is too short for a search to beat the proven recipe: training it alone on training + "
               f"validation images for {epochs} epochs",
    ))
    trainer, curve = retrain(run, frozen.number, genotype, epochs, earlier, most_epochs=RECIPE_ONLY_MAX_EPOCHS)
    seconds = round(sum(stats["seconds"] for stats in curve), 3)
    if frozen.state == TrialState.RUNNING:  # else a killed attempt of this run recorded it already
        trial = optuna.trial.Trial(run.study, frozen._trial_id)
        trial.set_user_attr("curve", curve)
        trial.set_user_attr("seconds", seconds)
        trial.set_user_attr("reason", "trained on training + validation images: nothing held out to validate it")
        trial.set_user_attr("status", "complete")
        run.study.tell(trial, state=TrialState.PRUNED)  # Optuna ranks by validation accuracy; it has none
    run.emit(events.TrialFinished(trial_id=frozen.number, val_accuracy=None, epochs=len(curve), seconds=seconds,
                                  **frozen.user_attrs["measurements"]))
    return FinalModel(frozen, trainer, None, retrained=True, epochs=len(curve))


def retrain(run: RunState, number: int, genotype: dict, epochs: int, earlier: dict | None, *,
            most_epochs: int, start_from: dict | None = None,
            group: data_parallel.TrainingGroup | None = None, steps: int | None = None) -> tuple[Trainer, list[dict]]:
    """The genotype trained on train+validation, and its curve; fewer epochs when time ran out.

    Args:
        run: the run's state.
        number: the candidate's trial number (for events).
        genotype: its genotype.
        epochs: the final training's epochs (its schedule spans them).
        earlier: the final training's checkpoint from a killed attempt of this run, or None.
        most_epochs: after each epoch, plan the epochs again from its real epochs, up to this many (a last one
            partial, see budget.steps_that_fit). The plan came from estimates: the recipe alone's from the probe, on
            a slice, 1.5-2x pessimistic; a retrain's from the search's epochs on the training split, with
            RETRAIN_MARGIN and the setup's time kept, which left a 60 s digits run 13% of its budget unused; a
            continued training's likewise, up to its searched schedule again.
        start_from: the trained weights the training continues from (Trainer.learned's state); None: from scratch.
        group: the slots that train it with this process (a retrain from scratch; see apps.nas.data_parallel).
        steps: the batches a fresh training's schedule spans where its last epoch is partial (a continued
            training's plan, see budget.continued_steps); None: `epochs` whole.
    """
    def trainer_from(checkpoint: dict | None, group: data_parallel.TrainingGroup | None) -> Trainer:
        trainer = run.final_trainer(genotype, epochs, should_stop=run.clock.out_of_final_time, group=group)
        if start_from is not None:
            trainer.learned.load_state_dict(start_from)
        if checkpoint is not None:
            trainer.load_state_dict(checkpoint["trainer"])
        return trainer

    trainer = trainer_from(earlier, group)
    if steps is not None and earlier is None:
        trainer.schedule_in_steps(steps)
    curve, epoch_seconds = list(earlier["curve"]) if earlier else [], []
    try:
        while trainer.epochs_done < trainer.total_epochs:
            started = time.monotonic()
            try:
                stats = trainer.run_epoch()
            except data_parallel.GroupBroken:
                # Alone from the last epoch's checkpoint (the weights are mid-epoch), on the plan it had.
                trainer.group.close()
                planned, checkpoint = trainer.schedule_steps, load_torch(run.files.final_path)
                trainer = trainer_from(checkpoint, None)
                trainer.schedule_in_steps(planned)
                curve = list(checkpoint["curve"]) if checkpoint else []
                continue
            curve.append(asdict(stats))
            save_torch_atomic({"trainer": trainer.state_dict(), "epochs": trainer.total_epochs, "curve": curve,
                               "continued": start_from is not None}, run.files.final_path)
            run.emit_epoch(number, "final", trainer.total_epochs, stats)
            epoch_seconds.append(time.monotonic() - started)
            # The median of the last few epochs: a machine that got busier or quieter changes the plan within a few
            # epochs, one epoch slowed by a passing job does not.
            recent_epoch_seconds = statistics.median(epoch_seconds[-RECENT_EPOCHS:])
            # Planned again after every epoch, to the end, for the batches the time left buys: up to most_epochs,
            # longer or shorter than the plan from the search's estimate, the last epoch partial (which took what
            # the time left bought: the plan then ends with it). No spare epoch: a slower epoch shortens the plan at
            # once, and one that still overruns is stopped by the clock at the end of its cosine. Lengthening late
            # raises the learning rate only a little (a 70-epoch plan lengthened by one at epoch 50: from 0.19 to
            # 0.20 of its peak); a spare epoch and a plan frozen half-way left 5-8% of 240 s runs unused (MNIST-5k's
            # 10 s epochs; digits' epochs that sped up after the plan froze).
            if not (trainer.epochs_done == trainer.total_epochs and trainer.last_epoch_steps < trainer.steps_per_epoch):
                trainer.schedule_in_steps(steps_that_fit(
                    epochs_done=trainer.epochs_done, planned_epochs=most_epochs,
                    seconds_left=run.clock.training_seconds_left(), epoch_seconds=recent_epoch_seconds,
                    steps_per_epoch=trainer.steps_per_epoch))
            if trainer.group is not None:
                try:
                    trainer.group.coordinators(trainer.schedule_steps)
                except data_parallel.GroupBroken:
                    trainer.group.close()
                    trainer.group = None
    except TrainingInterrupted:
        pass
    finally:
        if trainer.group is not None:
            trainer.group.close()
    return trainer, curve


def failure_message(trials: list[optuna.trial.FrozenTrial]) -> str:
    """Why no candidate could be trained, in plain words with what to do."""
    reasons = [t.user_attrs.get("reason", "") for t in trials]
    if reasons and all(reason.startswith("breaks the deployment limits") for reason in reasons):
        return (f"Every candidate ({len(reasons)}) broke the deployment limits, for example: {reasons[-1]}. "
                "Relax the limits (more parameters, a larger model size or a higher latency) and try again.")
    if not reasons:
        return "The budget ran out before any candidate could be trained. Give the search more time."
    detail = next((r for r in reversed(reasons) if r), "no reason recorded")
    if all(out_of_time(trial) for trial in trials):
        # Random search on 120 s of EuroSAT photos on one thread, 4 runs in 5: every draw too slow to train.
        return (f"No candidate could finish training in this budget ({len(reasons)} tried; the last: {detail}). "
                "Give the search more time, or choose the automatic strategy: it starts from candidates that fit "
                "a short budget.")
    return f"No candidate could be trained ({len(reasons)} tried); the last problem: {detail}."


def out_of_time(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether the clock alone kept the candidate from training: stopped by it, or skipped as too slow for it (the
    other candidates skipped untrained broke a deployment limit)."""
    status, reason = trial.user_attrs.get("status"), trial.user_attrs.get("reason", "")
    return status == "interrupted" or (status == "infeasible" and not reason.startswith("breaks the deployment"))
