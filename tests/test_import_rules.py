"""Architecture rules for the colorgan package, checked on its import graph.

The package is split into areas: ``models`` (plain torch networks), ``training`` (everything Lightning),
``evaluation`` and ``core`` (the top-level modules). These tests keep the split honest: no import cycles, Lightning
only in ``training`` (so ``colorgan predict``/``evaluate`` start fast), ``models`` usable with torch alone, and no
reaching into another area's private names. Every import counts, including ones inside functions and under
``if TYPE_CHECKING:``, because a deferred import is still a dependency that a refactor can turn into a real one.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "colorgan"
LIGHTNING = {"pytorch_lightning", "lightning", "lightning_fabric"}
MODELS_MAY_IMPORT = {"torch", "torchvision", "timm"}


@dataclass(frozen=True)
class Import:
    """One imported name: ``target`` is the module imported, ``name`` the attribute taken from it (if not a module)."""

    file: str  # e.g. colorgan/models/unet.py
    line: int
    text: str  # this one name's import, e.g. "from colorgan.models import unet"
    statement: str  # the whole statement it comes from
    source: str
    source_area: str
    target: str
    target_area: str | None  # None when target is not a module of the package
    name: str | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``root`` (a package is named by its __init__.py)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def area(root: Path, path: Path) -> str:
    """The subpackage a file lives in, or ``core`` for the top-level modules (``__init__.py`` included)."""
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else "core"


def _alias(alias: ast.alias) -> str:
    return alias.name + (f" as {alias.asname}" if alias.asname else "")


def collect_imports(root: Path) -> list[Import]:
    """Every import statement anywhere in every module, with relative imports resolved to absolute names."""
    mods = modules(root)
    found = []
    for source, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                pairs, texts = [(a.name, None) for a in node.names], [f"import {_alias(a)}" for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = source.split(".")[: None if is_package else -1]
                    package = package[: len(package) - node.level + 1]
                    base = ".".join([*package, *([node.module] if node.module else [])])
                prefix = "." * node.level + (node.module or "")
                pairs = [(f"{base}.{a.name}", None) if f"{base}.{a.name}" in mods else (base, a.name)
                         for a in node.names]  # "from a import b": module a.b if there is one, else name b of a
                texts = [f"from {prefix} import {_alias(a)}" for a in node.names]
            else:
                continue
            file = path.relative_to(root.parent).as_posix()
            for (target, name), text in zip(pairs, texts, strict=True):
                found.append(Import(file, node.lineno, text, ast.unparse(node), source, area(root, path), target,
                                    area(root, mods[target]) if target in mods else None, name))
    return sorted(found, key=lambda i: (i.file, i.line, i.text))


def find_cycles(root: Path) -> list[tuple[str, ...]]:
    """The shortest import cycle through each module that lies on one, as ``(a, b, ..., a)``, without repeats."""
    graph: dict[str, set[str]] = {}
    for imp in collect_imports(root):
        if imp.target_area is not None and imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
    cycles = set()
    for start in sorted(graph):
        parents: dict[str, str] = {}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if start in graph.get(node, ()):
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                ring = path[::-1]
                first = ring.index(min(ring))
                cycles.add((*ring[first:], *ring[:first], min(ring)))
                break
            for nxt in sorted(graph.get(node, ())):
                if nxt not in parents and nxt != start:
                    parents[nxt] = node
                    queue.append(nxt)
    return sorted(cycles)


def lightning_outside_training(root: Path) -> list[Import]:
    """Lightning takes seconds to import; only the training area may pay for it."""
    return [i for i in collect_imports(root) if i.target.split(".")[0] in LIGHTNING and i.source_area != "training"]


def models_foreign_imports(root: Path) -> list[Import]:
    """The networks must load with torch alone (for inference, export and other projects)."""
    def allowed(i: Import) -> bool:
        top = i.target.split(".")[0]
        return (top in sys.stdlib_module_names or top in MODELS_MAY_IMPORT or i.target == f"{root.name}.errors"
                or i.target_area == "models")
    return [i for i in collect_imports(root) if i.source_area == "models" and not allowed(i)]


def private_cross_area_imports(root: Path) -> list[Import]:
    """An underscore name is an area's internal detail; other areas must not depend on it."""
    def private(segment: str) -> bool:
        return segment.startswith("_") and not (segment.startswith("__") and segment.endswith("__"))
    found = []
    for i in collect_imports(root):
        if i.target_area is None or i.target_area == i.source_area:
            continue
        segments = i.target.split(".")[1:]
        core_helper = i.target_area == "core" and len(segments) == 1  # e.g. colorgan._wandb: shared on purpose
        if (any(map(private, segments)) and not core_helper) or (i.name is not None and private(i.name)):
            found.append(i)
    return found


def lightning_free_modules(root: Path) -> list[str]:
    """The modules that ``colorgan predict``/``evaluate`` and library users load, discovered from the tree."""
    pkg = root.name
    named = {pkg, f"{pkg}.inference", f"{pkg}.checkpoint", f"{pkg}.commands"}
    return [m for m in modules(root) if m in named or m.split(".")[1:2] in (["models"], ["evaluation"])]


def _report(title: str, lines: list[str]) -> None:
    if lines:
        pytest.fail(f"{title}:\n" + "\n".join(f"  {line}" for line in lines), pytrace=False)


def test_no_import_cycles() -> None:
    imports = collect_imports(ROOT)
    lines = []
    for cycle in find_cycles(ROOT):
        lines.append(" -> ".join(cycle))
        lines += dict.fromkeys(f"    {i.file}:{i.line}: {i.statement}" for a, b in pairwise(cycle) for i in imports
                               if (i.source, i.target) == (a, b))
    _report("import cycles (break one edge of each)", lines)


def test_lightning_only_in_training() -> None:
    _report("Lightning imported outside colorgan/training/", [str(i) for i in lightning_outside_training(ROOT)])


def test_models_import_only_torch() -> None:
    _report("colorgan/models/ may import only the standard library, torch, torchvision, timm, colorgan.errors "
            "and colorgan.models", [str(i) for i in models_foreign_imports(ROOT)])


def test_no_private_names_across_areas() -> None:
    _report("private names imported from another area (make them public or move them)",
            [f"{i}  [{i.source_area} -> {i.target_area}]" for i in private_cross_area_imports(ROOT)])


PROBE = """
import importlib, json, os, sys, traceback
package, hits, errors, current = sys.argv[1], {}, {}, None
sys.path.insert(0, os.path.dirname(package.rstrip(os.sep)))
def here(frames):  # the package's frames, as colorgan/x.py:line: source
    cut = len(os.path.dirname(package.rstrip(os.sep))) + 1
    return [f"{f.filename[cut:]}:{f.lineno}: {f.line}" for f in frames if f.filename.startswith(package)]
class Spy:  # records who imports Lightning first
    def find_spec(self, name, path=None, target=None):
        if name in ("pytorch_lightning", "lightning") and name not in hits:
            hits[name] = [current, *here(traceback.extract_stack())]
sys.meta_path.insert(0, Spy())
for current in sys.argv[2:]:
    try:
        importlib.import_module(current)
    except Exception as error:
        errors[current] = [repr(error), *here(traceback.extract_tb(error.__traceback__))[-1:]]
print(json.dumps({"hits": hits, "errors": errors,
                  "loaded": [m for m in ("pytorch_lightning", "lightning") if m in sys.modules]}))
"""


def lightning_loaded_at_runtime(root: Path) -> list[str]:
    """Imports the Lightning-free modules in a fresh interpreter; says who loaded Lightning and what failed to import.

    The static rule misses Lightning pulled in through a third-party package; this checks what really gets loaded.
    """
    run = subprocess.run([sys.executable, "-c", PROBE, f"{root}{os.sep}", *lightning_free_modules(root)],
                         cwd=root.parent, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    lines = [line for mod, hit in result["hits"].items()
             for line in [f"importing {hit[0]} loaded {mod}, via:", *(f"    {frame}" for frame in hit[1:])]]
    failed: dict[str, list[str]] = {}  # one line per distinct error: a broken __init__ breaks every module
    for mod, error in result["errors"].items():
        failed.setdefault(" at ".join(error), []).append(mod)
    lines += [f"{', '.join(mods)} failed to import: {error}" for error, mods in failed.items()]
    return lines + [f"{mod} is in sys.modules" for mod in result["loaded"] if mod not in result["hits"]]


def test_lightning_free_modules_import_without_lightning() -> None:
    _report("colorgan, inference, checkpoint, commands, models.* and evaluation.* must import without Lightning",
            lightning_loaded_at_runtime(ROOT))


def test_checkers_on_synthetic_package(tmp_path: Path) -> None:
    """Guards the checkers themselves: each must report exactly the planted violations, so none passes vacuously."""
    files = {
        "__init__.py": "from colorgan.errors import ColorganError\n__version__ = '0'\n",
        "errors.py": "class ColorganError(Exception): ...\n",
        "_wandb.py": "_x = 1\n",
        "a.py": "from colorgan import b, __version__\n",
        "b.py": "def f():\n    from . import a\n",
        "c.py": "from colorgan.b import _f\n",  # private, but same area (core)
        "models/__init__.py": "",
        "models/_helpers.py": "import math\n",
        "models/unet.py": "from __future__ import annotations\nimport math\nfrom colorgan.errors import ColorganError\n"
                          "import pytorch_lightning as pl\nimport numpy\nfrom . import _helpers\n"
                          "def f():\n    import torch.nn\n",
        "training/__init__.py": "",
        "training/module.py": "from typing import TYPE_CHECKING\nimport lightning\nfrom colorgan import _wandb\n"
                              "from colorgan._wandb import _x\nfrom colorgan.models import _helpers, unet\n"
                              "if TYPE_CHECKING:\n    from ..models.unet import _private\n",
        "evaluation/run.py": "from colorgan import __version__, _wandb\n",
    }
    (tmp_path / "pytorch_lightning.py").write_text("")  # a stand-in: found first on sys.path by the probe
    root = tmp_path / "colorgan"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    def where(found: list[Import]) -> set[str]:
        return {f"{i.file}:{i.line}" for i in found}

    assert find_cycles(root) == [("colorgan.a", "colorgan.b", "colorgan.a")]
    assert where(lightning_outside_training(root)) == {"colorgan/models/unet.py:4"}
    assert where(models_foreign_imports(root)) == {"colorgan/models/unet.py:4", "colorgan/models/unet.py:5"}
    assert where(private_cross_area_imports(root)) == {f"colorgan/training/module.py:{n}" for n in (4, 5, 7)}
    assert lightning_free_modules(root) == ["colorgan", "colorgan.evaluation.run", "colorgan.models",
                                            "colorgan.models._helpers", "colorgan.models.unet"]
    assert lightning_loaded_at_runtime(root) == ["importing colorgan.models.unet loaded pytorch_lightning, via:",
                                                 "    colorgan/models/unet.py:4: import pytorch_lightning as pl"]
