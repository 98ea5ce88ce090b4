"""run_search: from a dataset to a trained, exported best model within a wall-clock budget, resumable.

This module is the candidate loop: a strategy proposes a candidate, its size and CPU latency are measured as it
would be exported (a candidate over a limit, or on a CPU too slow for the time left, is skipped untrained), it
trains with per-epoch checkpoints and early stopping (its schedule shortened to the search's deadline when the rest
would not fit), and its outcome is told back. Once a candidate has finished, a share of the budget is kept for the
end of the run (apps.nas.final: the final training, the test score, the export). Every step is recorded in work_dir,
so calling run_search again with the same work_dir continues a killed search where it stopped. With
SearchConfig.workers > 1, other processes evaluate candidates beside this loop (run_trial_slot, see apps.nas.slots).
"""

import contextlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

import optuna
import torch
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from apps.nas import data_parallel, events, slots
from apps.nas.budget import Budget, SearchControl, check_budget, epochs_that_fit, recipe_only_epochs, search_deadline
from apps.nas.build import build, is_pretrained
from apps.nas.checkpoint import load_torch
from apps.nas.config import SearchConfig
from apps.nas.data import ImageDataset, load_image_folder, split_dataset
from apps.nas.features import CPU_BATCH_SIZE, cacheable
from apps.nas.final import finish_run
from apps.nas.leaderboard import genotype_summary
from apps.nas.measure import backbone_costs, deployment_costs
from apps.nas.names import BACKBONE_STAGES
from apps.nas.results import SearchResult
from apps.nas.scoring import CandidateResult, train_candidate
from apps.nas.shares import fraction_to_test
from apps.nas.space import SearchSpace, baseline_genotype, finetune_genotype, probe_genotype, with_epochs
from apps.nas.state import BestCandidate, ExportCost, RunState
from apps.nas.strategies import Strategy, create_strategy
from apps.nas.strategies.base import fits_space
from apps.nas.train import Trainer, TrainingInterrupted

# The probe that times one epoch for the minimum-budget check trains on this many images at most.
PROBE_IMAGES = 256
# A training step (forward, backward, update) costs about this many forward passes of one image, as the batch-1
# CPU latency measures them; batching makes it cheaper, so the estimate errs towards "slow".
TRAINING_STEP_FORWARDS = 3
# A candidate is trained only when the search time left buys at least this many of its epochs: the first rung of
# successive halving, and a second epoch to learn anything from it.
MIN_AFFORDABLE_EPOCHS = 2
# ... judged only for candidates whose estimated epoch is at least this share of the whole search.
SLOW_EPOCH_SHARE = 0.05
# Near the deadline (less time left than MIN_AFFORDABLE_EPOCHS epochs of the smallest candidate judged above, so
# every judged one is skipped), once a complete candidate is best, the search ends after this many in a row too
# slow for the time left: the final training gets the rest. A strategy that proposes such networks there proposes
# them to the deadline (oneshot on MNIST-5k at 180 s: about 100 in its last 10-15 s, each measured and listed).
SLOW_IN_A_ROW_NEAR_THE_END = 3
# The frozen-feature probe is timed on this many images (after one batch that pays the one-off setup), and runs
# only when its pass over train+validation would take at most this share of the time left for training.
PROBE_FEATURE_IMAGES = 24
PROBE_FEATURES_SHARE = 0.5
# A start point (the recipe, the fine-tuning recipe) trains for at most the epochs this share of the search time
# left buys, planned before it starts and again from its first real epoch, so that it finishes and leaves time for
# the start point after it and for the search.
START_POINT_SEARCH_SHARE = 0.5
# auto's recipe that beats the frozen-feature probe by this much on validation has shown that the pretrained
# features do not suit the data (MNIST-5k: 98.8-99.6% against 93.5-93.9%). On a budget that buys at most
# RECIPE_ONLY_MAX_EPOCHS of it, the search then ends and the recipe's final training takes the rest, as the recipe
# alone would have. At 300 s on MNIST-5k (three seeds), searching on after it and retraining it for 69-80 epochs
# scored 99.24%, ending the search and training it for 91-103 epochs 99.47%, the fixed recipe 99.38%.
RECIPE_CLEAR_WIN = 0.03
# The coordinator checks this often whether the other slots' last candidates have ended.
SLOTS_POLL_SECONDS = 1.0
# A slot re-reads the best candidate of every slot this often while it trains: the best sets the search's deadline
# and whether a candidate can still finish. Read between candidates only, a slot that drew a 35-epoch network
# before any slot had finished one trained it to the end of the budget (MNIST-5k, 300 s: 245 s), where one process
# stopped it after an epoch.
BEST_POLL_SECONDS = 1.0


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
    search = Search(config, Path(work_dir), on_event, control, worker=worker, storage_url=storage_url,
                    stale_seconds=stale_seconds)
    search.open_slot = open_slot
    return search.run(data)


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
    Search(config, Path(work_dir), on_event, control, slot=slot, worker=worker, storage_url=storage_url,
           stale_seconds=stale_seconds).run_slot(data)


def error_reason(error: BaseException) -> str:
    """Plain-words reason a candidate failed, for the leaderboard."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return "ran out of GPU memory, even with half the batch size"
    return f"{type(error).__name__}: {error}"


class Search(RunState):
    """The candidate loop of one run; the state it inherits is what the end of the run (finish_run) reads."""

    open_slot: Callable[[int], None] | None = None
    slow_in_a_row = 0  # candidates skipped as too slow for the time left since the last one that trained
    best_read_at = -math.inf  # time.monotonic() of the last refresh_best

    def search_deadline(self) -> float:
        """Elapsed seconds at which the search stops, leaving time for the final training and the end."""
        self.refresh_best()
        return search_deadline(total_seconds=self.budget.total(), elapsed_seconds=self.budget.elapsed(),
                               finish_seconds=self.finish_seconds,
                               final_epoch_seconds=self.final_epoch_seconds(),
                               best_epochs=self.best.epochs if self.best else 0)

    def search_seconds_left(self) -> float:
        return self.search_deadline() - self.budget.elapsed()

    def out_of_search_time(self) -> bool:
        return self.budget.cancelled() or self.budget.elapsed() >= self.search_deadline()

    def only_slow_proposals_left(self) -> bool:
        """Whether the search ends early: see SLOW_IN_A_ROW_NEAR_THE_END."""
        near_the_end = self.search_seconds_left() < MIN_AFFORDABLE_EPOCHS * SLOW_EPOCH_SHARE * self.search_deadline()
        return (self.slow_in_a_row >= SLOW_IN_A_ROW_NEAR_THE_END and near_the_end and self.best is not None
                and self.best.complete)

    def recipe_takes_the_rest(self) -> bool:
        """Whether auto's recipe, fully trained, beat the frozen-feature probe by RECIPE_CLEAR_WIN on validation,
        on a budget whose rest buys at most RECIPE_ONLY_MAX_EPOCHS of it on train+validation. Asked between
        candidates only: it reads the study, which may be a database."""
        if self.best is None or not self.best.complete:
            return False
        trials = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        best = next((trial for trial in trials if trial.number == self.best.trial), None)
        probe = next((trial for trial in trials if trial.user_attrs.get("origin") == "probe"), None)
        if best is None or best.user_attrs.get("origin") != "recipe" or probe is None:
            return False
        return best.value >= probe.value + RECIPE_CLEAR_WIN and recipe_only_epochs(
            available_seconds=self.training_seconds_left(), epoch_seconds=self.final_epoch_seconds()) > 0

    # -- the run ------------------------------------------------------------------------------------------------

    def run(self, data: ImageDataset | str | Path) -> SearchResult:
        resumed = self.files.started()
        dataset = self.load(data)
        if not resumed and self.storage_url is not None:
            # A database restored or recreated reuses run folders' names: a study of this name is someone else's.
            with contextlib.suppress(KeyError):
                optuna.delete_study(study_name=self.study_name, storage=self.files.storage(self.storage_url))
        if not resumed:
            epoch_seconds = self.probe_epoch_seconds()
            check_budget(self.budget, epoch_seconds=epoch_seconds, finish_seconds=self.finish_seconds)
        self.strategy = self.open_strategy(dataset)
        if not resumed:
            self.study.set_user_attr("recipe_epoch_seconds", epoch_seconds)
        self.best = self.load_best()
        self.emit(events.RunStarted(
            strategy=self.config.strategy, budget_seconds=self.budget.total(), device=self.device,
            seed=self.config.seed, resumed=resumed, dataset=self.dataset_summary(dataset),
            constraints=asdict(self.config.constraints), multi_fidelity=self.strategy.multi_fidelity,
        ))
        # The probe's affordability also orders the recipes a strategy starts from (Strategy.recipes).
        if not resumed and self.strategy.start_points() and self.strategy.probe is not None and (
                not self.probe_affordable()):
            self.strategy.probe = None
        if not resumed and (epochs := self.recipe_only_plan(epoch_seconds)):
            self.start_recipe_only(epochs)
        if self.phase == "search":
            self.search()
            self.phase = "final"
        return finish_run(self)

    def run_slot(self, data: ImageDataset | str | Path) -> None:
        """Slot `self.slot`'s part of the search (see run_trial_slot)."""
        if not self.files.started() or self.phase != "search":
            return
        dataset = self.load(data)
        self.strategy = self.open_strategy(dataset)
        clock_zero = self.study.user_attrs.get("clock_zero")
        if clock_zero is None or not self.strategy.parallel:
            return
        # The coordinator's clock: the budget counts from when its search began, wherever this slot runs.
        self.budget = Budget(self.config.budget_seconds, used_before=time.time() - clock_zero, control=self.control)
        self.evaluate_candidates()
        self.help_final_training()

    def help_final_training(self) -> None:
        """Train the run's final model with the coordinator, when it takes this slot's offer to (see
        apps.nas.data_parallel); returns when that training ends, or at once when it goes without this slot."""
        self.best = self.load_best()
        if self.final_training_processes() == 1:
            return
        published = data_parallel.wait_for_publication(
            self.study, self.slot, keep_waiting=lambda: not self.out_of_final_time())
        if published is None:
            return
        members, genotype = published["members"], self.study.trials[published["trial"]].user_attrs["genotype"]
        try:
            group = data_parallel.TrainingGroup(self.work_dir / published["meeting"], rank=members.index(self.slot),
                                                size=len(members))
        except data_parallel.GroupBroken:
            return
        trainer = self.final_trainer(genotype, published["epochs"], should_stop=self.budget.cancelled, group=group)
        try:
            while trainer.epochs_done < trainer.total_epochs:
                trainer.run_epoch()
                trainer.total_epochs = group.coordinators(0)
        except (TrainingInterrupted, data_parallel.GroupBroken):
            pass
        finally:
            group.close()

    def load(self, data: ImageDataset | str | Path) -> ImageDataset:
        """The dataset, split as every slot of this search splits it, and the space fitted to its images."""
        dataset = data if isinstance(data, ImageDataset) else load_image_folder(data, self.config.resolution)
        self.splits = split_dataset(dataset, seed=self.config.seed, val_fraction=self.config.val_fraction,
                                    test_fraction=fraction_to_test(len(dataset), self.config.test_fraction))
        self.space = self.fitted_space(min(dataset.input_shape[1:]))
        return dataset

    def open_strategy(self, dataset: ImageDataset) -> Strategy:
        """The configured strategy on the search's study (created by the first call), seeded per slot."""
        image_side = min(dataset.input_shape[1:])
        return create_strategy(
            self.config.strategy, storage=self.files.storage(self.storage_url), space=self.space,
            seed=self.config.seed + slots.SLOT_SEED_STRIDE * self.slot, multi_fidelity=self.config.multi_fidelity,
            baseline=baseline_genotype(), probe=probe_genotype(self.space, image_side),
            finetune=finetune_genotype(self.space, image_side), colour=dataset.input_shape[0] == 3,
            study_name=self.study_name,
        )

    @property
    def recipe_epoch_seconds(self) -> float | None:
        """The probe's time for one epoch of the recipe on the training split (measured once, by the coordinator)."""
        return self.study.user_attrs.get("recipe_epoch_seconds")

    def fitted_space(self, side: int) -> SearchSpace:
        """The configured space for images of this side, without the backbones that alone break a size limit (a
        microcontroller's, say): every candidate built on them would be measured only to be skipped."""
        space = self.config.space.for_images(side)
        limits = self.config.constraints
        fitting = tuple(name for name in space.backbones
                        if not limits.violations(**backbone_costs(name), latency_ms=0.0))
        return replace(space, backbones=fitting)

    def probe_epoch_seconds(self) -> float:
        """Seconds one epoch of a typical candidate takes on the whole training split, timed on a slice of it."""
        train, val = self.splits.train, self.splits.val
        recipe = baseline_genotype()
        # The recipe auto starts from; in a space that excludes it, a candidate drawn from the space instead.
        genotype = recipe if fits_space(self.space, recipe) else self.space.sample(random.Random(self.config.seed))
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
        # The frozen-feature probe, where it is affordable, runs first on any budget, and a search then compares it
        # with the recipe on validation.
        if not (self.strategy.recipe_on_small_budgets and self.config.final_retrain and recipe is not None
                and fits_space(self.space, recipe) and self.strategy.probe is None):
            return 0
        return recipe_only_epochs(available_seconds=self.training_seconds_left(),
                                  epoch_seconds=epoch_seconds * self.final_data_growth())

    def probe_affordable(self) -> bool:
        """Whether the frozen-feature probe's pass over train+validation takes at most PROBE_FEATURES_SHARE of the
        time left for training (20,000 photos at 224 px need 15 minutes on one CPU thread). Timed on a few
        images, whose features the probe then reuses; a GPU can always afford it."""
        if self.device != "cpu":
            return True
        data = self.splits.train_and_val
        model = build(self.strategy.probe, data.input_shape, data.num_classes)
        timed = data.images[CPU_BATCH_SIZE:CPU_BATCH_SIZE + PROBE_FEATURE_IMAGES]
        if not len(timed):
            return True
        self.features.features(model, data.images[:CPU_BATCH_SIZE])  # the first batch pays one-off setup
        started = time.monotonic()
        self.features.features(model, timed)
        seconds = (time.monotonic() - started) / len(timed) * len(data)
        return seconds <= PROBE_FEATURES_SHARE * self.training_seconds_left()

    def start_recipe_only(self, epochs: int) -> None:
        """Make the recipe the run's one candidate, to be trained on train+validation for `epochs` by finish_run.

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
            "splits": self.split_sizes(),
            "skipped": [list(item) for item in dataset.skipped],
        }

    def search(self) -> None:
        self.strategy.prepare(train=self.splits.train, val=self.splits.val, device=self.device,
                              constraints=self.config.constraints, seconds_left=self.search_seconds_left,
                              should_stop=self.out_of_search_time, emit=self.emit)
        # A killed run left its candidate RUNNING: continue it from its last epoch checkpoint. The other slots'
        # running candidates are theirs (see retry_stale_trials).
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen.user_attrs.get("slot", 0) != 0:
                continue
            # Optuna re-attaches to a trial by its storage id (there is no public lookup by number).
            trial = optuna.trial.Trial(self.study, frozen._trial_id)
            if "genotype" in frozen.user_attrs:
                self.evaluate(trial, frozen.user_attrs["genotype"], resume=True)
            else:
                trial.set_user_attr("reason", "the process stopped before the candidate was chosen")
                self.strategy.tell(trial, "failed")
        self.evaluate_candidates()
        self.wait_for_slots()

    def evaluate_candidates(self) -> None:
        """Ask and evaluate candidates until the search time is over (every slot, the coordinator's included)."""
        while (not self.out_of_search_time() and not self.reached_max_trials() and not self.recipe_takes_the_rest()
               and not self.only_slow_proposals_left()):
            self.retry_stale_trials()
            self.best = self.load_best()  # other slots may have found a better one: it sets the deadline
            trial, genotype = self.strategy.ask()
            self.open_slots()  # after the first ask: the strategy has queued its start points
            if (dead := slots.retry_of(trial)) is not None:
                self.continue_dead_trial(trial, self.study.trials[dead])
            else:
                self.evaluate(trial, genotype)

    def open_slots(self) -> None:
        """Once per attempt of the coordinator: tell the slots its clock, then have the caller start them."""
        if self.open_slot is None or self.config.workers == 1 or not self.strategy.parallel:
            return
        open_slot, self.open_slot = self.open_slot, None
        self.study.set_user_attr("clock_zero", time.time() - self.budget.elapsed())
        for slot in range(1, self.config.workers):
            open_slot(slot)

    def retry_stale_trials(self) -> None:
        """Record the candidates of dead workers as failed, and queue them again while retries and time are left."""
        stale = slots.stale_trials(self.study, time.time(), self.stale_seconds)
        if not stale:
            return
        with self.files.lock("stale"):
            for dead in stale:
                again = slots.can_retry(dead) and not self.out_of_search_time()
                if self.fail_slot_trial(dead, slots.stale_reason(dead, again, self.stale_seconds)) and again:
                    slots.retry(self.study, dead)

    def continue_dead_trial(self, trial: optuna.Trial, dead: optuna.trial.FrozenTrial) -> None:
        """Evaluate a dead worker's candidate again, from its last epoch checkpoint where it has one."""
        genotype = dead.user_attrs["genotype"]
        trial.set_user_attr("genotype", genotype)
        trial.set_user_attr("origin", dead.user_attrs.get("origin", "search"))
        self.evaluate(trial, genotype, resume=self.files.take_over_trial(dead.number, trial.number))

    def wait_for_slots(self) -> None:
        """The other slots stop at the same deadline: wait for their last candidates (failing those of dead
        workers) so that the run ends with the best of them all."""
        if self.config.workers == 1 or not self.strategy.parallel:
            return
        while self.budget.remaining() > self.finish_seconds and not self.budget.cancelled():
            self.retry_stale_trials()
            if not self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                break
            time.sleep(SLOTS_POLL_SECONDS)
        self.fail_unfinished_slot_trials()
        self.best = self.load_best()

    def fail_unfinished_slot_trials(self) -> None:
        """Record the other slots' candidates still running at the end of the wait as failed, with why: a finished
        run lists no candidate as running."""
        with self.files.lock("stale"):
            for frozen in slots.other_slots_running(self.study):
                self.fail_slot_trial(frozen, slots.unfinished_reason(frozen, time.time(), self.stale_seconds))

    def fail_slot_trial(self, frozen: optuna.trial.FrozenTrial, reason: str) -> bool:
        """Record another slot's running candidate as failed, and report it; False when it was told meanwhile (by
        its own slot, or by another one that noticed it first)."""
        trial = optuna.trial.Trial(self.study, frozen._trial_id)
        try:
            trial.set_user_attr("reason", reason)
            self.strategy.tell(trial, "failed")
        except (UpdateFinishedTrialError, ValueError):
            return False
        self.emit(events.TrialFailed(trial_id=frozen.number, reason=reason,
                                     seconds=time.time() - frozen.user_attrs["started_at"]))
        return True

    def reached_max_trials(self) -> bool:
        if self.config.max_trials is None:
            return False
        trained = [t for t in self.study.trials if t.user_attrs.get("status") not in (None, "infeasible")]
        return len(trained) >= self.config.max_trials

    # -- one candidate ------------------------------------------------------------------------------------------

    def measure(self, genotype: dict) -> dict:
        """Parameters, FLOPs, CPU latency and size of a freshly built model (before any training), as it would be
        exported: a limit checked here holds for the shipped model, test-time flips included."""
        shape = self.splits.train.input_shape
        return deployment_costs(build(genotype, shape, self.splits.train.num_classes), genotype, shape)

    def measure_within_limits(self, trial: optuna.Trial, genotype: dict) -> dict | None:
        """The candidate's measurements, or None (recorded and reported) when it breaks a deployment limit."""
        measured = self.measure(genotype)
        trial.set_user_attr("measurements", measured)
        violations = self.config.constraints.violations(
            params=measured["params"], size_mb=measured["size_mb"], latency_ms=measured["latency_ms"]
        )
        if violations:
            return self.skip_untrained(trial, "breaks the deployment limits: " + "; ".join(violations))
        return measured

    def too_slow(self, genotype: dict, measured: dict) -> str | None:
        """Why a slow candidate cannot train MIN_AFFORDABLE_EPOCHS epochs in the search time left on a CPU, or None.

        The epoch is estimated from the batch-1 latency measured for the limits: a fully fine-tuned EfficientNet-Lite2
        on a thousand photos at 224 px needs minutes per epoch on a small CPU, and would take the whole budget
        before it could be compared. Only candidates whose epoch is a sizeable share of the search are judged: a
        small one near the deadline starts and is stopped by it, as before. A pretrained candidate whose frozen
        stages' output is cached trains only its head and last stages on it (its one pass to compute them stops
        early when it cannot finish, see FeatureCache.features), and on a GPU the CPU latency says nothing about
        training time: neither is checked.
        """
        if self.device != "cpu" or self.trains_on_cache(genotype):
            return None
        forward_seconds = measured["latency_ms"] / 1000 / (2 if genotype["train"]["flip"] else 1)
        epoch_seconds = TRAINING_STEP_FORWARDS * forward_seconds * len(self.splits.train)
        seconds_left = self.search_seconds_left()
        if epoch_seconds < SLOW_EPOCH_SHARE * self.search_deadline() or (
                epoch_seconds * MIN_AFFORDABLE_EPOCHS <= seconds_left):
            return None
        return (f"too slow for the time left: an epoch would take about {epoch_seconds:.0f} s, and "
                f"{max(0.0, seconds_left):.0f} s of search are left")

    def trains_on_cache(self, genotype: dict) -> bool:
        """Whether the Trainer will run this candidate's frozen stages once per image and view (Trainer.cached)."""
        if not is_pretrained(genotype) or genotype["finetune"] == BACKBONE_STAGES:
            return False
        train, val = self.splits.train, self.splits.val
        model = build(genotype, train.input_shape, train.num_classes)
        views = 2 if genotype["train"]["flip"] else 1
        return cacheable(model, train.input_shape, len(train) + len(val), views)

    def skip_untrained(self, trial: optuna.Trial, reason: str) -> None:
        """Record and report a candidate that is not trained at all (told to the strategy as infeasible)."""
        trial.set_user_attr("reason", reason)
        self.strategy.tell(trial, "infeasible")
        self.emit(events.TrialPruned(trial_id=trial.number, reason=reason, val_accuracy=None, epochs=0,
                                     seconds=0.0, infeasible=True))
        return None

    def evaluate(self, trial: optuna.Trial, genotype: dict, *, resume: bool = False) -> None:
        """Measure, check the limits, train and tell the outcome of one candidate, under a heartbeat that tells
        other slots this process still works on it; failures are recorded."""
        trial.set_user_attr("slot", self.slot)
        trial.set_user_attr("worker", self.worker)
        trial.set_user_attr("started_at", time.time())
        # UpdateFinishedTrialError: the coordinator ended the run without this candidate (fail_unfinished_slot_trials).
        with slots.TrialHeartbeat(trial, self.stale_seconds / slots.HEARTBEATS_BEFORE_STALE), contextlib.suppress(
                UpdateFinishedTrialError):
            self.train_and_tell(trial, genotype, resume=resume)

    def train_and_tell(self, trial: optuna.Trial, genotype: dict, *, resume: bool) -> None:
        started = time.monotonic()
        number = trial.number
        try:
            measured = self.measure_within_limits(trial, genotype)
        except Exception as error:  # a candidate the space allows but the builder rejects: record, go on
            return self.record_failure(trial, error, started)
        if measured is None:
            return
        if not resume and (reason := self.too_slow(genotype, measured)) is not None:
            self.slow_in_a_row += 1
            return self.skip_untrained(trial, reason)
        if not resume and trial.user_attrs.get("origin") == "recipe" and self.recipe_epoch_seconds is not None:
            epochs = self.start_point_epochs(trial, epochs_done=0, epoch_seconds=self.recipe_epoch_seconds)
            if epochs < self.space.min_epochs and self.best is not None and self.best.complete:
                return self.skip_untrained(trial, f"too little time left: {epochs} epochs of it would fit, and it "
                                                  f"needs at least {self.space.min_epochs} to learn from scratch")
            genotype = self.fit_schedule(trial, genotype, max(self.space.min_epochs, epochs))
        self.slow_in_a_row = 0
        checkpoint = load_torch(self.files.trial_path(number)) if resume else None
        self.emit(events.TrialStarted(
            trial_id=number, genotype_summary=genotype_summary(genotype), genotype=genotype,
            epochs=genotype["train"]["epochs"], device=self.device, worker=self.worker,
            resumed_from_epoch=len(checkpoint["curve"]) if checkpoint else 0, **measured,
        ))
        if self.best is None:
            self.first_in_training = ExportCost(pretrained=is_pretrained(genotype), latency_ms=measured["latency_ms"])
        try:
            result = self.train(trial, genotype, checkpoint)
        except Exception as error:  # e.g. out of memory twice: record it and let the search go on
            return self.record_failure(trial, error, started)
        finally:
            self.first_in_training = None
        self.budget.confirm_ownership()  # a process paused past its lease must not tell the candidate's outcome
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
                                  seed=self.config.seed + trial.number, should_stop=self.out_of_search_time,
                                  seconds_left=self.search_seconds_left, features=self.features)
                curve = []
                if checkpoint is not None:
                    trainer.load_state_dict(checkpoint["trainer"])
                    curve = checkpoint["curve"]
                start_point = trial.user_attrs.get("origin", "search") != "search"
                return train_candidate(
                    trial, trainer, checkpoint_path=self.files.trial_path(trial.number), curve=curve,
                    pruning=self.strategy.multi_fidelity and not start_point,
                    stop_reason=self.stop_reason,
                    replan=partial(self.replan, trial, trainer, start_point),
                    on_epoch=partial(self.emit_epoch, trial.number, "search"),
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

    def start_point_epochs(self, trial: optuna.Trial, *, epochs_done: int, epoch_seconds: float) -> int:
        """The epochs a start point's schedule spans when START_POINT_SEARCH_SHARE of the search time left buys the
        rest of it, at most its own schedule's.

        A start point that cannot finish is stopped, and one cut short after an epoch loses what it would have
        shown: on digits the recipe stopped after 1 of its 30 epochs left the frozen-feature probe's 95% to ship
        (MNIST-5k, busy CPU), and on EuroSAT the fine-tuning recipe stopped after 1 of its 10 at 89%."""
        own_epochs = self.strategy.start_point(trial.user_attrs["origin"])["train"]["epochs"]
        affordable = int(START_POINT_SEARCH_SHARE * self.search_seconds_left() / epoch_seconds)
        return min(own_epochs, epochs_done + affordable)

    def fit_schedule(self, trial: optuna.Trial, genotype: dict, epochs: int) -> dict:
        """The genotype with its schedule over `epochs`, recorded on the trial (a resumed search rebuilds it)."""
        if epochs != genotype["train"]["epochs"]:
            genotype = with_epochs(genotype, epochs)
            trial.set_user_attr("genotype", genotype)
        return genotype

    def replan(self, trial: optuna.Trial, trainer: Trainer, start_point: bool, epoch_seconds: float) -> None:
        """After each epoch, fit the candidate's schedule to the time left (see replan_start_point and
        end_before_deadline), given that epoch's real seconds."""
        if start_point:
            self.replan_start_point(trial, trainer, epoch_seconds)
        self.end_before_deadline(trial, trainer, epoch_seconds)

    def replan_start_point(self, trial: optuna.Trial, trainer: Trainer, epoch_seconds: float) -> None:
        """After a start point's first epoch, fit its schedule to the time left from that epoch's real time (the
        recipe's plan came from a probe on a slice; the fine-tuning recipe's from nothing). Later, its learning rate
        has left the warm-up and its schedule stays."""
        if trainer.epochs_done != 1:
            return
        epochs = self.start_point_epochs(trial, epochs_done=1, epoch_seconds=epoch_seconds)
        epochs = max(min(self.space.min_epochs, trainer.total_epochs), epochs)
        trainer.total_epochs = self.fit_schedule(trial, trainer.genotype, epochs)["train"]["epochs"]

    def end_before_deadline(self, trial: optuna.Trial, trainer: Trainer, epoch_seconds: float) -> None:
        """Once a fully trained candidate is best, shorten the schedule of one that would not finish by the search's
        deadline to the epochs that fit, when they are at least the space's min_epochs (fewer: stop_reason stops it).

        Its learning rate then decays to zero on time, and the candidate is compared fully trained: stopped
        instead, a candidate drawn near the deadline is one epoch of warm-up, which tells the search nothing (one
        worker on MNIST-5k at 300 s spent the last 90 s of its search on 24 such stops)."""
        if not (self.best and self.best.complete):
            return
        epochs = epochs_that_fit(epochs_done=trainer.epochs_done, planned_epochs=trainer.total_epochs,
                                 seconds_left=self.search_seconds_left(), epoch_seconds=epoch_seconds)
        if self.space.min_epochs <= epochs < trainer.total_epochs:
            trainer.total_epochs = self.fit_schedule(trial, trainer.genotype, epochs)["train"]["epochs"]

    def stop_reason(self, seconds_needed: float) -> str | None:
        """Why a running candidate must stop now (cancelled, out of time, cannot finish in time), or None."""
        if self.budget.cancelled():
            return "stopped: the search was cancelled"
        if self.budget.elapsed() >= self.search_deadline():
            return "stopped: the search budget ran out"
        # Once there is a fully trained candidate, do not spend the rest of the budget on one that cannot finish.
        if self.best and self.best.complete and self.budget.elapsed() + seconds_needed > self.search_deadline():
            return "stopped: it would not finish in the time left"
        return None

    def record_failure(self, trial: optuna.Trial, error: Exception, started: float) -> None:
        self.budget.confirm_ownership()  # the error may be a lost lease's (a database session ended meanwhile)
        reason = error_reason(error)
        trial.set_user_attr("reason", reason)
        self.strategy.tell(trial, "failed")
        self.files.discard_trial(trial.number)
        self.emit(events.TrialFailed(trial_id=trial.number, reason=reason, seconds=time.monotonic() - started))

    def keep_if_best(self, number: int, genotype: dict, result: CandidateResult, measured: dict) -> None:
        """Keep the candidate's trained state when it beats the best so far of every slot (fully trained ones rank
        first)."""
        if not result.curve:
            return self.files.discard_trial(number)
        complete = result.status == "complete"
        self.budget.confirm_ownership()
        with self.files.lock("best"):
            best = self.files.best_record()
            if best is not None and (complete, result.val_accuracy) <= (best["complete"], best["val_accuracy"]):
                return self.files.discard_trial(number)
            self.files.keep_as_best(number, complete=complete, val_accuracy=result.val_accuracy)
        self.best = BestCandidate.from_curve(number, complete, result.curve, genotype, measured)
        self.emit(events.NewBest(trial_id=number, val_accuracy=result.val_accuracy,
                                 genotype_summary=genotype_summary(genotype), params=measured["params"],
                                 latency_ms=measured["latency_ms"]))

    def refresh_best(self) -> None:
        """Take the best candidate of every slot, at most every BEST_POLL_SECONDS (it is a file read)."""
        if time.monotonic() - self.best_read_at >= BEST_POLL_SECONDS:
            self.best = self.load_best()
            self.best_read_at = time.monotonic()

    def load_best(self) -> BestCandidate | None:
        """The best candidate kept so far, by any slot or an earlier attempt of this run (None before the first)."""
        best = self.files.best_record()
        if best is None:
            return None
        if self.best is not None and self.best.trial == best["trial"]:
            return self.best
        trial = self.study.trials[best["trial"]]
        return BestCandidate.from_curve(best["trial"], best["complete"], trial.user_attrs["curve"],
                                        trial.user_attrs["genotype"], trial.user_attrs["measurements"])
