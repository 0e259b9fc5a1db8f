"""The arrows of the house: train -> avatar_studio <- app, and gradio only in the page modules.

Read from the code's own imports (every form: import x, from x import y, relative imports), and
checked once more in a child process, which also sees imports made indirectly."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the modules of the page (layout, wiring, serving) may import gradio; nothing else in the runtime
GRADIO_MODULES = {"ui.py", "page.py", "serving.py", "guard.py"}
WEB = ("gradio", "gradio_client", "starlette", "fastapi", "uvicorn")


def imported(path: Path) -> set[str]:
    """Top-level names of every module the file imports (relative imports resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside its own package
                names.add(path.parent.name)
            elif node.module:
                names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value).split(".")[0])
    return names


def package(name: str) -> list[Path]:
    return sorted((ROOT / name).rglob("*.py"))


@pytest.mark.parametrize("path", package("avatar_studio"), ids=lambda p: p.name)
def test_the_runtime_never_imports_the_pipeline_and_only_the_page_imports_gradio(path):
    names = imported(path)
    assert not names & {"train", "benchmarks", "scripts", "tests"}, f"{path.name} imports {names}"
    if path.name not in GRADIO_MODULES:
        assert not names & set(WEB), f"{path.name} imports {names & set(WEB)}"


# the pipeline's one page: train.label's tagging page (python -m train.label --serve DIR), imported
# by train.label only when serving
TRAIN_PAGE_MODULES = {"label_page.py"}


@pytest.mark.parametrize("path", package("train"), ids=lambda p: p.name)
def test_the_pipeline_imports_no_web_stack_and_nothing_above_it(path):
    names = imported(path)
    assert not names & {"benchmarks", "scripts", "tests", "app"}, f"{path.name} imports {names}"
    if path.name not in TRAIN_PAGE_MODULES:
        assert not names & set(WEB), f"{path.name} imports {names & set(WEB)}"


def test_the_checker_sees_every_form_of_import(tmp_path):
    fake = tmp_path / "avatar_studio" / "m.py"
    fake.parent.mkdir()
    fake.write_text("import gradio.blocks\nfrom train.dataset import x\nfrom . import ui\n"
                    "def f():\n    importlib.import_module('starlette.routing')\n")
    assert imported(fake) == {"gradio", "train", "avatar_studio", "starlette"}


PROBE = """
import importlib, json, pkgutil, sys
import avatar_studio
names = [m.name for m in pkgutil.iter_modules(avatar_studio.__path__) if m.name not in sys.argv[1].split(",")]
for name in names:
    importlib.import_module("avatar_studio." + name)
print(json.dumps({"imported": names, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


@pytest.mark.server
def test_importing_every_runtime_module_but_the_page_loads_no_gradio_and_no_train():
    page = ",".join(n[:-3] for n in GRADIO_MODULES)
    r = subprocess.run([sys.executable, "-c", PROBE, page + ",__main__"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout)
    assert {"studio", "weights", "recipe", "cli", "publish"} <= set(got["imported"])
    assert not set(got["loaded"]) & {*WEB, "train", "benchmarks", "scripts", "tests"}, got["loaded"]
