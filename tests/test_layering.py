"""The house shows the flow: read -> rules -> ledger -> publish, imports never run against it, no
import cycle anywhere (function-level imports included), nothing imports the CLI, and the core
never loads Prefect."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "huizong"
# vocabulary every room may use
SHARED = {
    "catalog",
    "forms",
    "settings",
    "limits",
    "issues",
    "codes",
    "clock",
    "numbers",
    "words",
    "compact",
    "formats",
}
ALLOWED = {
    "read": {"read"},
    "rules": {"read", "rules", "ledger.store"},
    "ledger": {"read", "rules", "ledger"},
    "publish": {"read", "ledger", "publish"},
    "desk": {"read", "ledger", "publish", "pipeline", "desk", "notify"},
    # notices read the ledger, the desk's accounts and the board's deadlines; the desk queues them
    "notify": {"read", "ledger", "notify", "desk.accounts", "desk.board"},
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every huizong module this file imports, at any depth of the code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(("huizong", "flows", "prefect"))}
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("huizong", "flows", "prefect"))
        ):
            for a in node.names:  # `from huizong.ledger import store`: the module itself
                candidate = f"{node.module}.{a.name}"
                if (ROOT.parent / candidate.replace(".", "/")).with_suffix(".py").exists():
                    found.add(candidate)
                else:  # a name the package itself defines
                    found.add(node.module)
    return found


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}
GRAPH = {m: {i for i in imports_of(p) if i in MODULES and i != m} for m, p in MODULES.items()}
RAW = {m: imports_of(p) for m, p in MODULES.items()}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else parts[1] if len(parts) == 2 else ""


@pytest.mark.parametrize("module", sorted(m for m in MODULES if room(m) in ALLOWED))
def test_imports_follow_the_flow(module: str) -> None:
    own = room(module)
    for imported in RAW[module]:
        if not imported.startswith("huizong."):
            continue
        target = imported.removeprefix("huizong.")
        top = target.split(".")[0]
        if top in SHARED:
            continue
        allowed = ALLOWED[own]
        assert top in allowed or target in allowed, f"{module} imports {imported}: against the flow"


def test_nothing_imports_the_cli_flows_or_prefect() -> None:
    for module, imported in RAW.items():
        if module == "huizong.cli":
            continue
        bad = {i for i in imported if i.startswith(("huizong.cli", "prefect"))}
        assert not bad, f"{module} imports {bad}"
    assert {i for i in RAW["huizong.cli"] if i.startswith("prefect")} == set()


def test_no_import_cycle() -> None:
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for n in GRAPH[m]:
            if seen.get(n) == 1:
                cycle = [*stack[stack.index(n) :], n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in seen:
                visit(n)
        stack.pop()
        seen[m] = 2

    for m in sorted(GRAPH):
        if m not in seen:
            visit(m)


def test_core_does_not_load_prefect() -> None:
    code = (
        "import sys, huizong.cli, huizong.pipeline, huizong.publish.outputs, huizong.ledger.watch; "
        "assert not any(m.startswith('prefect') for m in sys.modules), 'prefect loaded'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
