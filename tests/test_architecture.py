"""The shape of the code: no import cycles, nothing imports upward, modules stay small.

Every module of grader/ is parsed with `ast`, and every import of a grader module counts: at the top, inside
functions (lazy), and under TYPE_CHECKING. Python runs a package's __init__ before its submodules, so a
package's __init__ may re-export its own submodules (a facade), but no module inside a package imports that
package's facade.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "grader"
MAX_LINES = 450

# Lowest layer first, by module or folder (the longest prefix decides). A module may import its own layer and
# the layers below it, never one above.
LAYERS: list[tuple[str, list[str]]] = [
    ("words", ["grader.vocabulary", "grader.version", "grader.errors"]),
    ("pure", ["grader.models", "grader.config", "grader.pricing", "grader.metrics", "grader.scoring", "grader.text"]),
    ("bank and transcripts", ["grader.bank", "grader.transcripts", "grader.grading.cache"]),
    ("clients", ["grader.clients"]),
    ("judges", ["grader.judges"]),
    ("grading", ["grader.grading"]),
    ("services", ["grader.batch", "grader.evaluation", "grader.authoring", "grader.review"]),
    ("cli", ["grader.cli", "grader.review.cli"]),
    ("entry points", ["grader", "grader.__main__"]),
]
ENTRY = "grader"
"""The package facade: lazy re-exports of the public API, at the top; matched exactly, not as a prefix."""

FORBIDDEN = [
    # The four imports issue #13 names, none of which may come back.
    ("grader.batch", "grader.judges"),  # batch code reaching past the service into judge types
    ("grader.clients", "grader.config"),  # clients take plain values, not Settings
    ("grader.bank.examples", "grader.judges"),  # the bank's example loader
    ("grader.grading.service", "grader.cli"),  # the service importing the renderer
]


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The grader modules a module imports, wherever the import statement stands."""

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(m for a in node.names if a.name.startswith("grader") and (m := owner(a.name)))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("grader"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                name = target if target in known else owner(node.module)
                if name:
                    found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def layer(module: str) -> int:
    best, rank = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or (prefix != ENTRY and module.startswith(prefix + "."))
            if inside and len(prefix) > best:
                best, rank = len(prefix), index
    return rank


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    assert [m for m in modules() if layer(m) < 0] == []


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_imports_upward() -> None:
    upward = [
        f"{source} ({LAYERS[layer(source)][0]}) imports {target} ({LAYERS[layer(target)][0]})"
        for source, targets in graph().items()
        for target in targets
        if layer(target) > layer(source)
    ]
    assert upward == []


def test_no_module_imports_its_own_package_facade() -> None:
    known = modules()
    inside = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        if source.startswith(target + ".") and target != "grader" and known[target].name == "__init__.py"
    ]
    assert inside == []


@pytest.mark.parametrize(("source", "target"), FORBIDDEN)
def test_named_imports_are_gone(source: str, target: str) -> None:
    edges = graph()
    offenders = [
        f"{m} imports {t}"
        for m, targets in edges.items()
        if m == source or m.startswith(source + ".")
        for t in targets
        if t == target or t.startswith(target + ".")
    ]
    assert offenders == []


def test_no_module_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_at_most_two_offline_comparisons_outside_the_judges() -> None:
    found = []
    for name, path in modules().items():
        if name.startswith("grader.judges"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                parts = [node.left, *node.comparators]
                if any(isinstance(p, ast.Constant) and p.value == "offline" for p in parts):
                    found.append(f"{name}:{node.lineno}")
    assert len(found) <= 2, found


def test_a_model_provider_is_one_registration(monkeypatch: pytest.MonkeyPatch, q05_answer: str) -> None:
    """A new provider SDK: its client module and one PROVIDERS entry; the judge, service and batch follow."""
    from grader.clients import select
    from grader.clients.base import ClientOptions
    from grader.clients.fake import ScriptedClient
    from grader.config import Settings
    from grader.grading.service import GradingService
    levels = {"vae_mechanism": 3, "gan_mechanism": 2, "tradeoffs": 2, "context": 1}
    feedback = {"strengths": [], "gaps": [], "misconceptions": [], "next_step": "", "follow_up_questions": []}
    criteria = {cid: {"evidence": [], "rationale": "r", "level": level} for cid, level in levels.items()}
    client = ScriptedClient().enqueue({"criteria": criteria, "feedback": feedback})
    seen: list[ClientOptions] = []
    monkeypatch.setitem(select.PROVIDERS, "acme", lambda options: seen.append(options) or client)
    with GradingService(Settings(backend="acme", use_cache=False)) as service:  # type: ignore[arg-type]
        grade = service.grade_answer("q05", q05_answer)
    assert grade.status == "graded" and seen[0].provider == "acme" and len(client.calls) == 1
