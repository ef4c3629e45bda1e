"""The house rules of ``qa/``, checked on its source: layers, one-way imports, no circle, one home per library."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qa"

#: Every part of the package, lowest first: a module may import its own layer and the ones below.
LAYERS = (
    ("qa.errors", "qa.config"),
    ("qa.text",),
    ("qa.ingest",),
    ("qa.embed",),
    ("qa.build",),
    ("qa.store",),
    ("qa.search",),
    ("qa.answer",),
    ("qa.update",),
    ("qa.index",),
    ("qa.live",),
    ("qa.eval",),
    ("qa.web",),
    ("qa.cli",),
    ("qa", "qa.__main__"),
)
#: The subpackages by layer, each with a docstring saying what it owns.
SUBPACKAGES = ("text", "ingest", "embed", "build", "store", "search", "answer", "eval", "web", "cli")
#: Libraries imported in one module each.
LIBRARY_HOMES = {
    "gradio": {"qa.web.app"},
    "fastapi": {"qa.web.server", "qa.web.api"},
    "pydantic": {"qa.web.schema"},
    "uvicorn": {"qa.web.server"},
    "faiss": {"qa.store.vectors"},
    "sentence_transformers": {"qa.embed.embedder"},
    "bm25s": {"qa.text.terms"},
    "Stemmer": {"qa.text.terms"},
    "ray": {"qa.build.cluster"},
    "sqlite3": None,  # checked below: only under qa.store
}
MAX_LINES = 500


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """``(imported module, line)`` for every import of the module, in functions and type-checking blocks too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from . import update`` imports the module ``update``, not the names of the package.
            submodules = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES]
            for found in submodules or [target]:
                yield found, node.lineno


def layer(module: str) -> int:
    """The layer of a module of the package (the longest matching prefix)."""
    best, depth = -1, -1
    for number, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = number, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return best


def graph() -> dict[str, set[str]]:
    """Which modules of the package each module imports."""
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        edges[name] = {target for target, _ in imports(name, path) if target in known and target != name}
    return edges


def test_every_module_is_in_a_layer_and_imports_only_its_own_and_lower_ones() -> None:
    upward = []
    for name, path in modules().items():
        for target, line in imports(name, path):
            if target.split(".")[0] == "qa" and target in modules() and layer(target) > layer(name):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert upward == []


def test_no_import_circle() -> None:
    edges = graph()
    # Tarjan's strongly connected components: any of more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert circles == []


def test_the_package_is_laid_out_by_layer_with_small_modules() -> None:
    for name in SUBPACKAGES:
        init = PACKAGE / name / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"qa/{name} says what it owns"
    long = {
        str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize("library", sorted(LIBRARY_HOMES))
def test_each_library_has_one_home(library: str) -> None:
    users = {
        name for name, path in modules().items() for target, _ in imports(name, path) if target.split(".")[0] == library
    }
    if library == "sqlite3":
        assert users and all(user.startswith("qa.store.") for user in users), users
    else:
        assert users == LIBRARY_HOMES[library]


def test_sql_is_written_only_in_the_store() -> None:
    statement = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|BEGIN|ALTER)\b")
    outside = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for name, path in modules().items()
        if not name.startswith("qa.store")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and statement.match(node.value)
    ]
    assert outside == []


def test_qa_variables_are_read_only_by_the_configuration() -> None:
    reads = re.compile(r"""(environ|getenv)\b[^\n]*["']QA_""")
    readers = {
        str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py") if reads.search(path.read_text(encoding="utf-8"))
    }
    assert readers == set()
    assert "os.environ" in (PACKAGE / "config.py").read_text(encoding="utf-8")


def test_importing_qa_changes_nothing_of_the_process() -> None:
    """No model, no UI, and FAISS's thread count as it was (searches set their own, on their thread)."""
    script = (
        "import sys, faiss; before = faiss.omp_get_max_threads(); import qa; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'gradio', 'ray') if m in sys.modules]; "
        "print(before == faiss.omp_get_max_threads(), heavy)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "True []"
