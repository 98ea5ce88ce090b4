"""Strategies registered by name: `create_strategy("tpe", ...)` is the one door to all of them."""

import optuna

from apps.nas.scoring import create_pruner
from apps.nas.space import SearchSpace

STRATEGIES: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make a Strategy subclass available under its `name`."""
    STRATEGIES[cls.name] = cls
    return cls


def create_strategy(
    name: str,
    *,
    storage: optuna.storages.BaseStorage,
    space: SearchSpace,
    seed: int,
    multi_fidelity: bool | None = None,
    baseline: dict | None = None,
    probe: dict | None = None,
    finetune: dict | None = None,
    colour: bool = False,
    study_name: str = "search",
):
    """The named strategy on a new study in `storage`, or on the one already there (a resumed search).

    Args:
        name: a key of STRATEGIES.
        storage: where the study lives (a journal file in the search's work_dir).
        space: the search space candidates come from.
        seed: makes the sequence of candidates reproducible.
        multi_fidelity: ASHA early stopping on or off; None takes the strategy's default.
        baseline: a known-good genotype strategies may start from (auto does).
        probe: a cheap first candidate that tells how far pretrained features go (auto starts with it).
        finetune: a fine-tuning recipe (auto tries it after the probe).
        colour: the images are in colour (auto then tries the fine-tuning recipe before the hand-designed one).
        study_name: the study's name inside the storage.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown search strategy {name!r}; choose one of: {', '.join(sorted(STRATEGIES))}.")
    cls = STRATEGIES[name]
    use_multi_fidelity = cls.multi_fidelity_default if multi_fidelity is None else multi_fidelity
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize",
        pruner=create_pruner(use_multi_fidelity),
        sampler=optuna.samplers.RandomSampler(),  # replaced below, once the trial count is known
        load_if_exists=True,
    )
    # A resumed search reseeds with the number of trials so far: a sampler that keeps its own state (TPE's) would
    # propose the first candidates over again with the same seed. A fresh search (no trials) uses the seed as given.
    # Random draws ignore the reseeding: they come from the first attempt's seed and the trial's number.
    attempt_seed = seed + 1_000_003 * len(study.trials)
    study.sampler = cls.create_sampler(study, attempt_seed)
    return cls(study, space, seed=attempt_seed, multi_fidelity=use_multi_fidelity, baseline=baseline,
               probe=probe, finetune=finetune, colour=colour)
