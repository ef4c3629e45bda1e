"""The import graph of ``qa/`` at a git revision: modules, lines, imports, circles, imports running up a layer.

    .venv/bin/python scripts/import_graph.py            # the working tree
    .venv/bin/python scripts/import_graph.py 1595f7b    # a revision (read with git show, nothing checked out)

A module's layer is that of the longest prefix in LAYERS; the flat modules of revisions
before the layout by layer are placed in the layer their code moved to (a module whose
code went to several layers counts in the lowest). An import "runs up" when a module
imports one of a higher layer. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Layers, lowest first, by module prefix; the old flat modules by where their code went.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("qa.errors", "qa.config"),
    ("qa.text", "qa.documents", "qa.duplicates"),
    ("qa.ingest", "qa.readers", "qa.sources"),
    ("qa.embed", "qa.embedding", "qa.onnx_query"),
    ("qa.build", "qa.backend", "qa.splitting", "qa.distributed"),
    ("qa.store", "qa.database", "qa.vectors", "qa.lexical", "qa.snapshot", "qa.writer", "qa.identity"),
    ("qa.search", "qa.retrieval", "qa.followup"),
    ("qa.answer", "qa.answerability", "qa.answers", "qa.calibration"),
    ("qa.update",),
    ("qa.index",),
    ("qa.live",),
    ("qa.eval", "qa.evaluation", "qa.feedback"),
    ("qa.web", "qa.app", "qa.chat", "qa.render"),
    ("qa.cli",),
    ("qa", "qa.__main__"),
)


#: Modules that are packages (their file is an ``__init__.py``), filled by :func:`sources`.
PACKAGES: set[str] = set()


def sources(revision: str | None) -> dict[str, str]:
    """Every module of ``qa/`` (dotted name) and its source, at ``revision`` or in the working tree."""
    if revision is None:
        files = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in (ROOT / "qa").rglob("*.py")}
    else:
        listing = subprocess.run(
            ["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", revision, "qa"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        files = {
            name: subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{revision}:{name}"], check=True, capture_output=True, text=True
            ).stdout
            for name in listing
            if name.endswith(".py")
        }
    modules = {}
    for name, text in files.items():
        parts = name[: -len(".py")].split("/")
        if parts[-1] == "__init__":
            PACKAGES.add(".".join(parts[:-1]))
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = text
    return modules


def layer(module: str) -> int:
    """The layer of a module (the longest matching prefix)."""
    best, depth = -1, -1
    for number, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = number, len(prefix)
    return best


def edges(modules: dict[str, str]) -> dict[str, set[str]]:
    """Which modules of the package each module imports (anywhere in it)."""
    graph: dict[str, set[str]] = {}
    for name, text in modules.items():
        package = name if name in PACKAGES else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
                found.update(subs or [target])
        graph[name] = {t for t in found if t in modules and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revision", nargs="?", help="a git revision (default: the working tree)")
    revision = parser.parse_args(argv).revision
    modules = sources(revision)
    graph = edges(modules)
    up = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets if layer(b) > layer(a))
    lines = {name: len(text.splitlines()) for name, text in modules.items()}
    subpackages = sorted({m.split(".")[1] for m in modules if m.count(".") >= 2})
    print(f"revision: {revision or 'working tree'}")
    print(f"modules: {len(modules)} ({sum(lines.values())} lines; subpackages: {', '.join(subpackages) or 'none'})")
    print(f"largest module: {max(lines, key=lines.__getitem__)} ({max(lines.values())} lines)")
    print(f"modules over 500 lines: {sum(n > 500 for n in lines.values())}")
    print(f"imports between modules: {sum(len(t) for t in graph.values())}")
    found = circles(graph)
    print(f"circles: {len(found)}" + "".join(f"\n  {' <-> '.join(c)}" for c in found))
    print(f"imports running up a layer: {len(up)}" + "".join(f"\n  {edge}" for edge in up))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
