"""run_search: from a dataset to a trained, exported best model within a wall-clock budget, resumable.

This module is the candidate loop: a strategy proposes a candidate, its size and CPU latency are measured as it
would be exported (a candidate over a limit, or on a CPU too slow for the time left, is skipped untrained), it
trains with per-epoch checkpoints and early stopping (its schedule shortened to the search's deadline when the rest
would not fit), and its outcome is told back. Once a candidate has finished, a share of the budget is kept for the
end of the run (apps.nas.final: the final training, the test score, the export). Every step is recorded in work_dir,
so calling run_search again with the same work_dir continues a killed search where it stopped. With
SearchConfig.workers > 1, other processes evaluate candidates beside this loop (run_trial_slot, see apps.nas.slots).

The loop asks the run's clock (apps.nas.clock) what the time left allows, apps.nas.start_points what auto starts
from, apps.nas.admission whether a drawn candidate may train, and apps.nas.candidate_schedule fits its epochs to the
clock; on small data apps.nas.cross_validation scores it. The run's state (apps.nas.state) is what the end of the run
reads.
"""

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import cached_property, partial
from pathlib import Path

import optuna
import torch
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from apps.nas import admission, events, slots, start_points
from apps.nas.budget import Budget, SearchControl, check_budget
from apps.nas.build import is_pretrained
from apps.nas.candidate_schedule import ScheduleFitter, fit_schedule, start_point_epochs
from apps.nas.checkpoint import load_torch
from apps.nas.clock import BestCandidate, ExportCost
from apps.nas.config import SearchConfig
from apps.nas.data import ImageDataset
from apps.nas.final import finish_run
from apps.nas.final_group import help_final_training
from apps.nas.leaderboard import STANDING_FIELDS, Standing, genotype_summary, plain_name
from apps.nas.results import SearchResult
from apps.nas.scoring import CandidateResult, train_candidate
from apps.nas.space import baseline_genotype, finetune_genotype, probe_genotype, with_epochs
from apps.nas.state import RunState
from apps.nas.strategies import Strategy, create_strategy
from apps.nas.train import Trainer


def run_search(
    config: SearchConfig,
    data: ImageDataset | str | Path,
    work_dir: str | Path,
    *,
    on_event: Callable[[dict], None] | None = None,
    control: SearchControl | None = None,
    open_slot: Callable[[int], None] | None = None,
    storage_url: str | None = None,
    worker: str = "",
    stale_seconds: float = slots.STALE_SECONDS,
) -> SearchResult:
    """Search for the best image classifier the budget allows, then retrain, test and export it.

    Args:
        config: budget, strategy, seed, deployment limits, search space.
        data: a loaded dataset, which the search reorders in place (train | validation | test, see split_dataset)
            rather than copy its pixels; or a folder of class folders (loaded with load_image_folder).
        work_dir: where the search keeps its state and writes result.json and the exported model; calling
            run_search again with the same work_dir resumes a killed search.
        on_event: receives every event (see apps.nas.events) as a JSON-able dict.
        control: lets the caller cancel the search or extend its budget while it runs.
        open_slot: with config.workers > 1, called with 1, 2, ... once the search is ready for other processes
            to evaluate candidates beside it: each must call run_trial_slot with that slot (a duplicate call does
            no harm only if the caller keeps it from running twice). None: this process alone.
        storage_url: a database (PostgreSQL) for the study, which slots on other machines reach; None: a journal
            file in work_dir.
        worker: who runs this process (host:pid), recorded on its candidates and events.
        stale_seconds: a slot's candidate whose heartbeat is older than this belongs to a dead worker (see
            apps.nas.slots); the same for every slot of a search.

    Raises:
        DatasetError: the data cannot be used (empty, a single class, too few images).
        BudgetTooSmall: the budget cannot train and export even one candidate (raised before any training).
        SearchFailed: every candidate failed or broke the limits.
    """
    # Optuna logs every trial at INFO; the events already tell that story.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run = RunState(config, Path(work_dir), on_event, control, worker=worker, storage_url=storage_url,
                   stale_seconds=stale_seconds)
    return Search(run, open_slot).coordinate(data)


def run_trial_slot(
    config: SearchConfig,
    data: ImageDataset | str | Path,
    work_dir: str | Path,
    *,
    slot: int,
    on_event: Callable[[dict], None] | None = None,
    control: SearchControl | None = None,
    storage_url: str | None = None,
    worker: str = "",
    stale_seconds: float = slots.STALE_SECONDS,
) -> None:
    """Evaluate candidates of the search run_search is running in work_dir, beside it, until its search time is
    over; the coordinator keeps the best of every slot's candidates. Returns at once when the search has not opened
    its slots, has moved on to its end, or uses a strategy that learns in one process (oneshot).

    Args: as run_search's (the same config, data, work_dir and storage_url); slot: 1, 2, ... as open_slot gave it.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    Search(RunState(config, Path(work_dir), on_event, control, slot=slot, worker=worker, storage_url=storage_url,
                    stale_seconds=stale_seconds)).run_slot(data)


def error_reason(error: BaseException) -> str:
    """Plain-words reason a candidate failed, for the leaderboard."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return "ran out of GPU memory, even with half the batch size"
    return f"{type(error).__name__}: {error}"


class Search:
    """The candidate loop of one run, on the run's state, which the end of the run (finish_run) then reads."""

    def __init__(self, run: RunState, open_slot: Callable[[int], None] | None = None):
        self.run = run
        self.open_slot = open_slot

    # -- the run ------------------------------------------------------------------------------------------------

    def coordinate(self, data: ImageDataset | str | Path) -> SearchResult:
        """The coordinator's run (see run_search): the start points' plan, the search, then the run's end."""
        run = self.run
        resumed = run.files.started()
        dataset = run.load_data(data)
        if not resumed and run.storage_url is not None:
            # A database restored or recreated reuses run folders' names: a study of this name is someone else's.
            with contextlib.suppress(KeyError):
                optuna.delete_study(study_name=run.study_name, storage=run.files.storage(run.storage_url))
        if not resumed:
            epoch_seconds = start_points.probe_epoch_seconds(run)
            check_budget(run.budget, epoch_seconds=epoch_seconds, finish_seconds=run.clock.finish_seconds)
        run.strategy = self.open_strategy(dataset)
        if not resumed:
            run.study.set_user_attr("recipe_epoch_seconds", epoch_seconds)
        run.best = run.load_best()
        run.emit(events.RunStarted(
            strategy=run.config.strategy, budget_seconds=run.budget.total(), device=run.device,
            seed=run.config.seed, resumed=resumed, dataset=run.dataset_summary(dataset),
            constraints=asdict(run.config.constraints), multi_fidelity=run.strategy.multi_fidelity,
        ))
        # The probe's affordability also orders the recipes a strategy starts from (Strategy.recipes).
        if not resumed and run.strategy.start_points() and run.strategy.probe is not None and (
                not start_points.probe_affordable(run)):
            run.strategy.probe = None
        if not resumed and (epochs := start_points.recipe_only_plan(run, epoch_seconds)):
            self.start_recipe_only(epochs)
        if run.phase == "search":
            self.search()
            run.phase = "final"
        return finish_run(run)

    def run_slot(self, data: ImageDataset | str | Path) -> None:
        """Slot `self.run.slot`'s part of the search (see run_trial_slot)."""
        run = self.run
        if not run.files.started() or run.phase != "search":
            return
        dataset = run.load_data(data)
        run.strategy = self.open_strategy(dataset)
        clock_zero = run.study.user_attrs.get("clock_zero")
        if clock_zero is None or not run.strategy.parallel:
            return
        # The coordinator's clock: the budget counts from when its search began, wherever this slot runs.
        run.budget = Budget(run.config.budget_seconds, used_before=time.time() - clock_zero, control=run.control)
        self.evaluate_candidates()
        help_final_training(run)

    @cached_property
    def ledger(self) -> slots.SlotLedger:
        """What this process records of the other slots' candidates (once the strategy is open)."""
        run = self.run
        return slots.SlotLedger(run.study, tell=run.strategy.tell, emit=run.emit,
                                lock=partial(run.files.lock, "stale"), stale_seconds=run.stale_seconds)

    def open_strategy(self, dataset: ImageDataset) -> Strategy:
        """The configured strategy on the search's study (created by the first call), seeded per slot."""
        image_side = min(dataset.input_shape[1:])
        run = self.run
        return create_strategy(
            run.config.strategy, storage=run.files.storage(run.storage_url), space=run.space,
            seed=run.config.seed + slots.SLOT_SEED_STRIDE * run.slot, multi_fidelity=run.config.multi_fidelity,
            baseline=baseline_genotype(), probe=probe_genotype(run.space, image_side),
            finetune=finetune_genotype(run.space, image_side), colour=dataset.input_shape[0] == 3,
            study_name=run.study_name,
        )

    @property
    def recipe_epoch_seconds(self) -> float | None:
        """The probe's time for one epoch of the recipe on the training split (measured once, by the coordinator)."""
        return self.run.study.user_attrs.get("recipe_epoch_seconds")

    def start_recipe_only(self, epochs: int) -> None:
        """Make the recipe the run's one candidate, to be trained on train+validation for `epochs` by finish_run.

        Nothing is held out to choose between candidates when there is one, so it has no validation accuracy;
        the test split still scores it. A recipe over a deployment limit is recorded as such and the search runs.
        """
        run = self.run
        trial, genotype = run.strategy.ask()  # a strategy with recipe_on_small_budgets asks for its recipe first
        measured = self.measure_within_limits(trial, genotype)
        if measured is None:
            return
        trial.set_user_attr("final_epochs", epochs)
        run.phase = "recipe"
        run.emit(events.TrialStarted(
            trial_id=trial.number, name=plain_name(genotype),
            genotype_summary=genotype_summary(with_epochs(genotype, epochs)), genotype=genotype,
            epochs=epochs, device=run.device, **measured,
        ))

    def search(self) -> None:
        run = self.run
        run.strategy.prepare(train=run.splits.train, val=run.splits.val, device=run.device,
                             constraints=run.config.constraints, seconds_left=run.clock.search_seconds_left,
                             should_stop=run.clock.out_of_search_time, emit=run.emit)
        if run.study.trials:  # resumed, its start points queued: the slots need not wait for its candidate
            self.open_slots()
        # A killed run left its candidate RUNNING: continue it from its last epoch checkpoint. The other slots'
        # running candidates are theirs (see SlotLedger.retry_stale).
        for frozen in run.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen.user_attrs.get("slot", 0) != 0:
                continue
            # Optuna re-attaches to a trial by its storage id (there is no public lookup by number).
            trial = optuna.trial.Trial(run.study, frozen._trial_id)
            if "genotype" in frozen.user_attrs:
                self.evaluate(trial, frozen.user_attrs["genotype"], resume=True)
            else:
                trial.set_user_attr("reason", "the process stopped before the candidate was chosen")
                run.strategy.tell(trial, "failed")
        self.evaluate_candidates()
        self.wait_for_slots()

    def evaluate_candidates(self) -> None:
        """Ask and evaluate candidates until the search time is over (every slot, the coordinator's included)."""
        run = self.run
        while (not run.clock.out_of_search_time() and not self.reached_max_trials()
               and not start_points.recipe_takes_the_rest(run) and not run.clock.only_slow_proposals_left()):
            self.ledger.retry_stale(search_over=run.clock.out_of_search_time)
            run.best = run.load_best()  # other slots may have found a better one: it sets the deadline
            trial, genotype = run.strategy.ask()
            self.open_slots()  # after the first ask: the strategy has queued its start points
            if (dead := slots.retry_of(trial)) is not None:
                self.continue_dead_trial(trial, run.study.trials[dead])
            else:
                self.evaluate(trial, genotype)

    def open_slots(self) -> None:
        """Once per attempt of the coordinator, once the strategy has queued its start points: tell the slots its
        clock, then have the caller start them."""
        run = self.run
        if self.open_slot is None or run.config.workers == 1 or not run.strategy.parallel:
            return
        open_slot, self.open_slot = self.open_slot, None
        run.study.set_user_attr("clock_zero", time.time() - run.budget.elapsed())
        for slot in range(1, run.config.workers):
            open_slot(slot)

    def continue_dead_trial(self, trial: optuna.Trial, dead: optuna.trial.FrozenTrial) -> None:
        """Evaluate a dead worker's candidate again, from its last epoch checkpoint where it has one."""
        genotype = dead.user_attrs["genotype"]
        trial.set_user_attr("genotype", genotype)
        trial.set_user_attr("origin", dead.user_attrs.get("origin", "search"))
        self.evaluate(trial, genotype, resume=self.run.files.take_over_trial(dead.number, trial.number))

    def wait_for_slots(self) -> None:
        """The other slots stop at the same deadline: wait for their last candidates (failing those of dead
        workers) so that the run ends with the best of them all."""
        if self.run.config.workers == 1 or not self.run.strategy.parallel:
            return
        run = self.run
        self.ledger.wait_for_others(
            keep_waiting=lambda: run.budget.remaining() > run.clock.finish_seconds and not run.budget.cancelled(),
            search_over=run.clock.out_of_search_time)
        run.best = run.load_best()

    def reached_max_trials(self) -> bool:
        if self.run.config.max_trials is None:
            return False
        trained = [t for t in self.run.study.trials if t.user_attrs.get("status") not in (None, "infeasible")]
        return len(trained) >= self.run.config.max_trials

    # -- one candidate ------------------------------------------------------------------------------------------

    def measure_within_limits(self, trial: optuna.Trial, genotype: dict) -> dict | None:
        """The candidate's measurements, or None (recorded and reported) when it breaks a deployment limit."""
        measured = admission.measure(self.run, genotype)
        trial.set_user_attr("measurements", measured)
        violations = self.run.config.constraints.violations(
            params=measured["params"], size_mb=measured["size_mb"], latency_ms=measured["latency_ms"]
        )
        if violations:
            return self.skip_untrained(trial, "breaks the deployment limits: " + "; ".join(violations))
        return measured

    def skip_untrained(self, trial: optuna.Trial, reason: str) -> None:
        """Record and report a candidate that is not trained at all (told to the strategy as infeasible)."""
        trial.set_user_attr("reason", reason)
        self.run.strategy.tell(trial, "infeasible")
        self.run.emit(events.TrialPruned(trial_id=trial.number, reason=reason, val_accuracy=None, epochs=0,
                                     seconds=0.0, infeasible=True))
        return None

    def evaluate(self, trial: optuna.Trial, genotype: dict, *, resume: bool = False) -> None:
        """Measure, check the limits, train and tell the outcome of one candidate, under a heartbeat that tells
        other slots this process still works on it; failures are recorded."""
        trial.set_user_attr("slot", self.run.slot)
        trial.set_user_attr("worker", self.run.worker)
        trial.set_user_attr("started_at", time.time())
        # UpdateFinishedTrialError: the coordinator ended the run without this candidate (SlotLedger.fail_unfinished).
        with slots.TrialHeartbeat(trial, self.run.stale_seconds / slots.HEARTBEATS_BEFORE_STALE), contextlib.suppress(
                UpdateFinishedTrialError):
            self.train_and_tell(trial, genotype, resume=resume)

    def train_and_tell(self, trial: optuna.Trial, genotype: dict, *, resume: bool) -> None:
        run = self.run
        started = time.monotonic()
        number = trial.number
        try:
            measured = self.measure_within_limits(trial, genotype)
        except Exception as error:  # a candidate the space allows but the builder rejects: record, go on
            return self.record_failure(trial, error, started)
        if measured is None:
            return
        if not resume and (reason := admission.too_slow(run, genotype, measured)) is not None:
            run.clock.slow_in_a_row += 1
            return self.skip_untrained(trial, reason)
        if not resume and trial.user_attrs.get("origin") == "recipe" and self.recipe_epoch_seconds is not None:
            epochs = start_point_epochs(run, trial, epochs_done=0, epoch_seconds=self.recipe_epoch_seconds)
            if epochs < run.space.min_epochs and run.best is not None and run.best.complete:
                return self.skip_untrained(trial, f"too little time left: {epochs} epochs of it would fit, and it "
                                                  f"needs at least {run.space.min_epochs} to learn from scratch")
            genotype = fit_schedule(trial, genotype, max(run.space.min_epochs, epochs))
        run.clock.slow_in_a_row = 0
        checkpoint = load_torch(run.files.trial_path(number)) if resume else None
        run.emit(events.TrialStarted(
            trial_id=number, name=plain_name(genotype), genotype_summary=genotype_summary(genotype), genotype=genotype,
            epochs=genotype["train"]["epochs"], device=run.device, worker=run.worker,
            resumed_from_epoch=len(checkpoint["curve"]) if checkpoint else 0, **measured,
        ))
        if run.best is None:
            run.first_in_training = ExportCost(pretrained=is_pretrained(genotype),
                                               scoring_seconds_per_image=measured["latency_ms"] / 1000)
        try:
            result = self.train(trial, genotype, checkpoint)
        except Exception as error:  # e.g. out of memory twice: record it and let the search go on
            return self.record_failure(trial, error, started)
        finally:
            run.first_in_training = None
        run.budget.confirm_ownership()  # a process paused past its lease must not tell the candidate's outcome
        # The curve is stored once, at the end: the checkpoint holds it meanwhile, and rewriting it after every
        # epoch would grow the journal quadratically.
        trial.set_user_attr("curve", result.curve)
        trial.set_user_attr("seconds", round(result.seconds, 3))
        if result.reason:
            trial.set_user_attr("reason", result.reason)
        standing = self.standing(trial, genotype, result)
        # The strategy learns from the better estimate it has.
        run.strategy.tell(trial, result.status,
                          result.val_accuracy if standing.cv_accuracy is None else standing.cv_accuracy)
        if result.status == "complete":
            run.emit(events.TrialFinished(trial_id=number, val_accuracy=result.val_accuracy,
                                          cv_accuracy=standing.cv_accuracy,
                                           epochs=len(result.curve), seconds=result.seconds, **measured))
        else:
            run.emit(events.TrialPruned(trial_id=number, reason=result.reason, val_accuracy=result.val_accuracy,
                                         epochs=len(result.curve), seconds=result.seconds))
        self.keep_if_best(number, genotype, result, standing, measured)

    def train(self, trial: optuna.Trial, genotype: dict, checkpoint: dict | None) -> CandidateResult:
        """Train with early stopping; on CUDA out-of-memory, retry once from scratch with half the batch size."""
        run = self.run
        for attempt in (1, 2):
            try:
                trainer = Trainer(genotype, run.splits.train, run.splits.val, device=run.device,
                                  seed=run.config.seed + trial.number, should_stop=run.clock.out_of_search_time,
                                  seconds_left=run.clock.search_seconds_left, features=run.features)
                curve = []
                if checkpoint is not None:
                    trainer.load_state_dict(checkpoint["trainer"])
                    curve = checkpoint["curve"]
                start_point = trial.user_attrs.get("origin", "search") != "search"
                return train_candidate(
                    trial, trainer, checkpoint_path=run.files.trial_path(trial.number), curve=curve,
                    pruning=run.strategy.multi_fidelity and not start_point,
                    stop_reason=run.clock.stop_reason,
                    replan=ScheduleFitter(run, trial, trainer, start_point=start_point),
                    on_epoch=partial(run.emit_epoch, trial.number, "search"),
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

    def record_failure(self, trial: optuna.Trial, error: Exception, started: float) -> None:
        run = self.run
        run.budget.confirm_ownership()  # the error may be a lost lease's (a database session ended meanwhile)
        reason = error_reason(error)
        trial.set_user_attr("reason", reason)
        run.strategy.tell(trial, "failed")
        run.files.discard_trial(trial.number)
        run.emit(events.TrialFailed(trial_id=trial.number, reason=reason, seconds=time.monotonic() - started))

    def standing(self, trial: optuna.Trial, genotype: dict, result: CandidateResult) -> Standing:
        """How the candidate compares with others: its last epoch on the validation split and, on small data where
        the time left affords its k trainings, its cross-validated score (apps.nas.cross_validation)."""
        run, plan = self.run, self.run.cross_validation
        on_validation = Standing(complete=result.status == "complete", val_accuracy=result.val_accuracy,
                                 val_loss=result.curve[-1]["val_loss"] if result.curve else None)
        seconds_left = run.clock.search_seconds_left()
        if plan is None or result.status != "complete" or not plan.affordable(
                [stats["seconds"] for stats in result.curve], len(run.splits.train), seconds_left):
            return on_validation
        folded = plan.score(genotype, device=run.device, seed=run.config.seed + trial.number, features=run.features,
                            should_stop=run.clock.out_of_search_time, seconds_left=seconds_left)
        if folded is None:
            return on_validation
        trial.set_user_attr("cross_validation", asdict(folded))
        return replace(on_validation, cv_accuracy=folded.accuracy)

    def keep_if_best(self, number: int, genotype: dict, result: CandidateResult, standing: Standing,
                     measured: dict) -> None:
        """Keep the candidate's trained state when it beats the best so far of every slot (Standing.beats)."""
        run = self.run
        if not result.curve:
            return run.files.discard_trial(number)
        run.budget.confirm_ownership()
        with run.files.lock("best"):
            best = run.files.best_record()
            if best is not None and not standing.beats(Standing(**{key: best.get(key) for key in STANDING_FIELDS})):
                return run.files.discard_trial(number)
            run.files.keep_as_best(number, asdict(standing))
        run.best = BestCandidate.from_curve(number, standing.complete, result.curve, genotype, measured)
        run.emit(events.NewBest(trial_id=number, val_accuracy=result.val_accuracy, cv_accuracy=standing.cv_accuracy,
                                name=plain_name(genotype), genotype_summary=genotype_summary(genotype),
                                params=measured["params"], latency_ms=measured["latency_ms"]))
