"""The house plan, checked: imports run one way and never in a circle.

    cli, web → daemon → alerts, scoring → feeds → the base (config, schema, states, review, ...)

The web dashboard shares the CLI's floor: it may import everything below, and only the CLI's
`watch serve` command imports it.

Every import counts, those inside functions too, so a lazy import cannot hide a reach-around.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import watch

SRC = Path(watch.__file__).parent
# Higher floors may import lower ones, never the other way; alerts and scoring share a floor
# and do not import each other (the daemon passes what one needs from the other).
FLOORS = {"feeds": 1, "alerts": 2, "scoring": 2, "daemon": 3, "cli": 4, "web": 4}
SKIPPED = {"migrations"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        name = module_name(path)
        if name.split(".")[1:2] and name.split(".")[1] in SKIPPED:
            continue
        found[name] = path
    return found


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The watch modules `path` imports (a submodule named in `from x import y` included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name.startswith("watch")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("watch"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                out.add(child if child in known else node.module)
    return out & known


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(path, known) - {name} for name, path in found.items()}


def top(module: str) -> str:
    """'watch.alerts.stages.digest' → 'alerts'; 'watch' → ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def floor(module: str) -> int:
    return FLOORS.get(top(module), 0)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle():
    edges = graph()
    # a package's __init__ importing its own modules is how a package is assembled: the
    # reverse edge (a module importing its package) would be a circle and is not excused
    assert cycles(edges) == []


def test_a_circle_would_be_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_run_downwards():
    upward = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if floor(target) > floor(module)
    ]
    assert upward == []


def test_only_the_serve_command_imports_the_web_package():
    importers = {
        module
        for module, targets in graph().items()
        if top(module) != "web" and any(top(target) == "web" for target in targets)
    }
    assert importers == {"watch.cli.web"}


def test_alerts_and_scoring_do_not_import_each_other():
    crossing = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if {top(module), top(target)} == {"alerts", "scoring"}
    ]
    assert crossing == []


def test_every_package_is_walked():
    names = set(graph())
    for package in ("watch.feeds", "watch.alerts", "watch.scoring", "watch.cli", "watch.config"):
        assert package in names
    for package in ("watch.web", "watch.web.pages", "watch.web.actions"):
        assert package in names
    assert "watch.alerts.stages.supersede" in names
    assert floor("watch.cli.common") == 4 and floor("watch.schema") == 0


PUBLIC_API = [
    "__version__",
    "Config",
    "load_config",
    "open_database",
    "session_scope",
    "make_client",
    "fetch_feed",
    "parse_feed",
    "Matcher",
    "ingest",
    "poll",
    "rematch",
    "evaluate",
    "read_labelled",
    "failing_examples",
    "update_states",
    "resolve_reading",
    "resolve",
    "reopen",
    "reject",
    "history",
    "close_windows",
    "indicator_status",
    "list_evidence",
    "feed_health",
    "Message",
    "configured_channels",
    "decide",
    "list_deliveries",
    "retry_delivery",
    "deliver",
    "build_scorecard",
    "render_scorecard",
    "save_report",
    "run_backtest",
    "Daemon",
    "WatchError",
    "InvalidConfigFile",
    "FeedError",
    "DeliveryError",
]


def test_public_api_is_pinned():
    assert watch.__all__ == PUBLIC_API
    for name in PUBLIC_API:
        assert getattr(watch, name) is not None, name
    from watch.feeds.refresh import poll
    from watch.scoring.render import render

    assert watch.poll is poll and watch.render_scorecard is render


def test_importing_watch_stays_cheap():
    heavy = "('sqlalchemy', 'httpx', 'feedparser')"
    code = f"import sys, watch; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
