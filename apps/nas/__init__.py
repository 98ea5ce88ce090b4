"""NASweb's search engine: neural-architecture search for image classifiers, with no Django in it.

    from apps.nas import SearchConfig, run_search
    result = run_search(SearchConfig(budget_seconds=300), "path/to/class/folders", "work_dir")
"""

import importlib

# Loaded on first use (PEP 562), so `import apps.nas.preprocess` (the web layer preparing an image) does not pull
# in the whole engine with Optuna and the exporters.
_EXPORTS = {
    "BudgetTooSmall": "apps.nas.budget",
    "Constraints": "apps.nas.config",
    "DatasetError": "apps.nas.data",
    "LeaseLost": "apps.nas.budget",
    "SearchFailed": "apps.nas.final",
    "SearchConfig": "apps.nas.config",
    "SearchResult": "apps.nas.results",
    "run_search": "apps.nas.search",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'apps.nas' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
