"""The search engine is a plain PyTorch library: the web layer calls it, never the other way round."""

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "apps" / "nas"
WEB_PACKAGES = {"django", "rest_framework", "channels", "channels_redis", "uvicorn", "dramatiq", "django_dramatiq",
                "drf_spectacular", "nasweb"}


def imported_modules(source: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def forbidden(module: str) -> bool:
    top = module.split(".")[0]
    return top in WEB_PACKAGES or (top == "apps" and not module.startswith("apps.nas"))


def test_no_engine_module_imports_the_web_layer():
    offenders = {
        f"{path.relative_to(ENGINE.parent.parent)}: {module}"
        for path in ENGINE.rglob("*.py")
        for module in imported_modules(path)
        if forbidden(module)
    }
    assert not offenders, f"the engine must not import Django or the web apps: {sorted(offenders)}"


def test_the_whole_engine_imports_without_django_loaded():
    probe = (
        "import importlib, pkgutil, sys, apps.nas as nas\n"
        "for m in pkgutil.walk_packages(nas.__path__, 'apps.nas.'):\n"
        "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        f"leaked = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(WEB_PACKAGES)!r})\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ENGINE.parent.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_boundary_check_catches_a_django_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from django.conf import settings\n    from apps.runs import models\n")

    assert {m for m in imported_modules(bad) if forbidden(m)} == {"django.conf", "apps.runs"}


def test_the_web_process_serves_without_loading_pytorch():
    # It reads the engine's names and result types (apps.nas.names, apps.nas.results) and serves predictions with
    # onnxruntime; it never loads the engine itself.
    probe = (
        "import os, sys, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'nasweb.settings.test')\n"
        "django.setup()\n"
        "import nasweb.asgi, nasweb.urls, apps.runs.api, apps.runs.sharing_api, apps.runs.views\n"
        "leaked = sorted(m for m in ('torch', 'optuna') if m in sys.modules)\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ENGINE.parent.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
