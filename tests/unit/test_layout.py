"""The layout README's "Layout" section promises: imports only run down the floors (entry
points → edges → core → models/surveys), edges never import each other, no import cycles, no
string registries (``import_module``), and one name per Celery task (core.jobs)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "core", "worker", "models", "surveys")

# Rooms, most specific prefix first. An edge is one of the ways into the product.
ROOMS = (
    ("bot.app", "entry"),
    ("bot.request_session", "web plumbing"),
    ("bot.wechat", "edge: chat"),
    ("bot.chat", "edge: chat"),
    ("bot.dashboard", "edge: web"),
    ("bot.api", "edge: web"),
    ("bot.public", "edge: web"),
    ("bot.bind", "edge: web"),
    ("bot.cli", "edge: cli"),
    ("bot.demo", "edge: cli"),
    ("worker.tasks", "edge: tasks"),
    ("worker.main", "entry"),
    ("worker", "entry"),
    ("bot", "entry"),
    ("core", "core"),
    ("models", "data"),
    ("surveys", "data"),
)

# What each kind of room may import besides itself.
MAY_IMPORT = {
    "data": {"data"},
    "core": {"core", "data"},
    "web plumbing": {"core", "data"},
    # Both Flask edges share the per-request session.
    "edge: chat": {"core", "data", "web plumbing"},
    "edge: web": {"core", "data", "web plumbing"},
    "edge: tasks": {"core", "data"},
    # The CLI's `serve` and `demo` start the WSGI app, as gunicorn would.
    "edge: cli": {"core", "data", "entry"},
    "entry": {"entry", "web plumbing", "edge: chat", "edge: web", "edge: tasks", "core", "data"},
}


def room_of(module: str) -> str | None:
    for prefix, room in ROOMS:
        if module == prefix or module.startswith(prefix + "."):
            return room
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        files += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, wherever the import stands (lazy ones too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            # ``from core import jobs`` imports core.jobs.
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return [n for n in names if n.split(".")[0] in PACKAGES]


def existing(module: str) -> str | None:
    """``module`` if it is a file or package of the product, else None (a name in a module)."""
    path = ROOT.joinpath(*module.split("."))
    if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
        return module
    return None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in product_files():
        source = module_name(path)
        for target in imported_modules(path):
            target = existing(target)
            if target is not None and target != source:
                graph[source].add(target)
    return graph


def test_the_rooms_cover_every_module():
    unplaced = [module_name(p) for p in product_files() if room_of(module_name(p)) is None]
    assert unplaced == []


def test_imports_only_run_down_and_edges_never_import_each_other():
    wrong = []
    for source, targets in import_graph().items():
        room = room_of(source)
        for target in targets:
            other = room_of(target)
            if other != room and other not in MAY_IMPORT[room]:
                wrong.append(f"{source} ({room}) -> {target} ({other})")
    assert sorted(wrong) == []


def test_the_cli_starts_the_app_but_uses_nothing_else_of_the_web():
    # The one entry the CLI may import is the WSGI app's factory.
    graph = import_graph()
    entries = {
        f"{source} -> {target}"
        for source, targets in graph.items()
        if room_of(source) == "edge: cli"
        for target in targets
        if room_of(target) == "entry"
    }
    assert entries <= {"bot.cli.serve -> bot", "bot.demo.servers -> bot"}


def test_there_is_no_import_cycle():
    graph = import_graph()
    # Each package's __init__ is imported with any of its modules; a module importing its own
    # package is not a cycle of the code.
    for source in graph:
        graph[source] = {t for t in graph[source] if not source.startswith(t + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


@pytest.mark.parametrize("banned", ["import_module", "__import__("])
def test_no_string_imports_in_product_code(banned):
    assert [str(p.relative_to(ROOT)) for p in product_files() if banned in p.read_text()] == []


def test_every_task_has_a_name_from_core_jobs_and_every_name_a_task(tmp_path):
    from core import jobs
    from core.celery_app import celery, configure_celery
    from tests.conftest import make_settings

    configure_celery(make_settings(f"sqlite:///{tmp_path / 'layout.db'}"))
    registered = {name for name in celery.tasks if not name.startswith("celery.")}
    assert registered == set(jobs.ALL)
    assert all(name.startswith("banzhuren.") and name.count(".") == 2 for name in jobs.ALL)
    from core.beat import beat_schedule

    assert {entry["task"] for entry in beat_schedule().values()} <= set(jobs.ALL)
