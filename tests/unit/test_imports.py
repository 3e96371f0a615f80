"""The import graph between the top-level packages (issue 14, structure).

Rules: ``common`` (atomic files, schemas, bounds, the auth store, JSON config files)
is the base everyone may use and imports none of the others; ``ipc`` uses only
``common``; workers import neither ``supervisor`` nor ``admin_ui``; the
supervisor and the admin UI do not import each other, and the UI imports no worker
package (it talks to the supervisor through its RPC); the supervisor reads worker
types only through ``edgeos.workers.registry``; no cycle between the packages; no
worker opens the supervisor's or the broker's control socket. No exceptions.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("supervisor", "ipc", "workers", "admin_ui", "common")
FORBIDDEN = {("ipc", "supervisor"), ("ipc", "workers"), ("ipc", "admin_ui"),
             ("common", "supervisor"), ("common", "workers"), ("common", "admin_ui"),
             ("common", "ipc"),
             ("workers", "supervisor"), ("workers", "admin_ui"),
             ("admin_ui", "supervisor"), ("admin_ui", "workers"),
             ("supervisor", "admin_ui")}


def imports() -> dict[str, set[str]]:
    """``package.module`` -> the ``edgeos.*`` modules it imports (anywhere in it)."""
    out: dict[str, set[str]] = defaultdict(set)
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [_submodule(node.module, a.name) for a in node.names]
                else:
                    continue
                out[module] |= {n for n in names if n.startswith("edgeos.")}
    return out


def _submodule(module: str, name: str) -> str:
    """``from edgeos.workers import registry`` imports ``edgeos.workers.registry``."""
    parts = [*module.split(".")[1:], name]
    base = ROOT.joinpath(*parts)
    return f"{module}.{name}" if base.with_suffix(".py").is_file() or (
        base / "__init__.py").is_file() else module


def cross_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], dict[str, set[str]]]:
    edges: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module, targets in graph.items():
        src = module.split(".")[0]
        for target in targets:
            dst = target.split(".")[1]
            if dst in PACKAGES and dst != src:
                edges[(src, dst)][module].add(target)
    return edges


def cycles(pairs: set[tuple[str, str]]) -> list[set[str]]:
    """Strongly connected sets of more than one package."""
    reach = {p: {b for a, b in pairs if a == p} for p in PACKAGES}
    changed = True
    while changed:
        changed = False
        for p in PACKAGES:
            more = set().union(*(reach[q] for q in reach[p])) - reach[p]
            if more:
                reach[p] |= more
                changed = True
    found = {frozenset({p} | {q for q in reach[p] if p in reach[q]}) for p in PACKAGES}
    return [set(c) for c in found if len(c) > 1]


def test_no_forbidden_edge() -> None:
    found = [f"{module} imports {sorted(targets)} ({pair[0]} -> {pair[1]})"
             for pair, modules in cross_edges(imports()).items() if pair in FORBIDDEN
             for module, targets in modules.items()]
    assert not found, "imports across package lines (see the module docstring):\n" + \
        "\n".join(found)


def test_the_supervisor_reads_worker_types_only_through_the_registry() -> None:
    reached = {t for m in cross_edges(imports())[("supervisor", "workers")].values()
               for t in m}
    assert reached <= {"edgeos.workers.registry"}, reached


def test_no_cycle_between_packages() -> None:
    assert cycles(set(cross_edges(imports()))) == []


def test_workers_keep_off_the_control_sockets() -> None:
    users = {str(p.relative_to(ROOT)) for p in (ROOT / "workers").rglob("*.py")
             if "addresses.CONTROL" in (text := p.read_text(encoding="utf-8"))
             or "addresses.BROKER_CTL" in text}
    assert users == set(), users


def test_the_checker_sees_a_planted_edge() -> None:
    graph = imports()
    graph["workers.simulator.worker"].add("edgeos.supervisor.arbiter")
    assert ("workers", "supervisor") in cross_edges(graph)
    assert cycles({("workers", "supervisor"), ("supervisor", "workers")}) == [
        {"workers", "supervisor"}]
