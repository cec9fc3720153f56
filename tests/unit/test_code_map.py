"""The code map holds: rule X -> workflow_scripts/X.py -> a harxai function named X; no hidden imports."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RULE = re.compile(r"^rule (\w+):", re.MULTILINE)
SCRIPT = re.compile(r'^\s+script:\s*\n\s+"([^"]+)"', re.MULTILINE)


def rule_scripts() -> dict[str, str | None]:
    """Every rule of the Snakefile and the rule files -> its script path (None without one)."""
    out: dict[str, str | None] = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        text = path.read_text(encoding="utf-8")
        starts = [(m.start(), m.group(1)) for m in RULE.finditer(text)]
        for i, (start, name) in enumerate(starts):
            body = text[start : starts[i + 1][0] if i + 1 < len(starts) else len(text)]
            found = SCRIPT.search(body)
            out[name] = found.group(1) if found else None
    return out


def _called_function(script: Path) -> tuple[str, str]:
    """(module, name) of the harxai function a workflow script hands to run_job."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    imported = {
        alias.asname or alias.name: (node.module or "", alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "run_job"
    ]
    assert len(calls) == 1, f"{script.name}: expected one run_job call"
    target = calls[0].args[1]
    assert isinstance(target, ast.Name), f"{script.name}: run_job must get a function name"
    return imported[target.id]


RULES = rule_scripts()


def test_rules_are_discovered() -> None:
    assert {"ingest_dataset", "train_model", "shap_chunk", "perturb_edges", "build_report"} <= set(RULES)


@pytest.mark.parametrize("rule", sorted(r for r, s in RULES.items() if s is not None))
def test_rule_script_calls_the_package_function_named_after_it(rule: str) -> None:
    script = RULES[rule]
    assert script is not None
    assert Path(script).name == f"{rule}.py", f"rule {rule} runs {script}"
    module, name = _called_function(REPO / "rules" / script)
    assert name == rule, f"workflow_scripts/{rule}.py calls {module}.{name}"
    assert module.startswith("harxai.")
    assert callable(getattr(importlib.import_module(module), name))


def test_every_script_belongs_to_a_rule() -> None:
    used = {Path(s).name for s in RULES.values() if s}
    assert {p.name for p in (REPO / "workflow_scripts").glob("*.py")} == used


def test_function_local_imports_give_a_reason() -> None:
    """An import inside a function needs a comment on its line or the line before (why it is late)."""
    missing = []
    for path in sorted((REPO / "src" / "harxai").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    here, before = lines[inner.lineno - 1], lines[inner.lineno - 2]
                    if "#" not in here and not before.strip().startswith("#"):
                        missing.append(f"{path.relative_to(REPO)}:{inner.lineno}")
    assert missing == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO / "src").with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_imports(path: Path, modules: set[str]) -> set[str]:
    """harxai modules imported at module level (not inside functions) by ``path``."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for n in ast.walk(f)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules}
            continue
        base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
        target = ".".join([*base, *([node.module] if node.module else [])])
        for alias in node.names:
            full = f"{target}.{alias.name}"
            out.add(full if full in modules else target)
    return {m for m in out if m in modules and m != name}


def test_no_import_cycle() -> None:
    paths = {_module_name(p): p for p in (REPO / "src" / "harxai").rglob("*.py")}
    graph = {m: _module_imports(p, set(paths)) for m, p in paths.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(n) :], n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
