"""The package's shape (issue 17): no import cycle, no private name used across modules, no file over
400 lines, a vocabulary that imports nothing of babelscope but its errors and is defined once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 400
#: names of the vocabulary: assigned in babelscope.vocab only
VOCAB_NAMES = {"COMPONENTS", "MODALITIES", "STREAMS", "SET_COMPONENTS", "ENCODER_STREAM_COMPONENTS", "WHISPER_CODES",
               "FLEURS_CODES", "VOICES", "ISO639_1_TO_3", "LANGUAGE_NAMES", "LATIN_SCRIPT", "SITE_KINDS"}


def _modules() -> dict[str, Path]:
    out = {}
    for p in (SRC / "babelscope").rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODS = _modules()


def _runtime_nodes(tree: ast.AST):
    """Every node outside ``if TYPE_CHECKING:`` blocks (annotations only, never imported at run time)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(mod: str) -> list[tuple[str, str | None, ast.AST]]:
    """(module, imported name or None, node) of every import in ``mod``, lazy ones included."""
    path = MODS[mod]
    out = []
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                pkg = pkg[:len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            out += [(base, a.name, node) for a in node.names]
    return out


def _graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {m: set() for m in MODS}
    for m in MODS:
        for base, name, _ in _imports(m):
            target = f"{base}.{name}" if name and f"{base}.{name}" in MODS else base
            if target in MODS and target != m:
                g[m].add(target)
    return g


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert not cycles, f"import cycles: {cycles}"


def test_the_cycle_finder_finds_a_cycle():
    """The check above can fail: a made-up graph with a cycle through three modules."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_private_name_crosses_a_module():
    bad = []
    for m, path in MODS.items():
        aliases = {}
        for base, name, node in _imports(m):
            if not base.startswith("babelscope") or base == m:
                continue
            if name and name.startswith("_") and not name.startswith("__") and f"{base}.{name}" not in MODS:
                bad.append(f"{m}: from {base} import {name}")
            if isinstance(node, ast.Import):
                for a in node.names:
                    aliases[a.asname or a.name] = a.name
            elif name and f"{base}.{name}" in MODS:
                aliases[next(a.asname or a.name for a in node.names if a.name == name)] = f"{base}.{name}"
        for node in _runtime_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and node.attr.startswith("_") and not node.attr.startswith("__"):
                bad.append(f"{m}: {node.value.id}.{node.attr}")
    assert not bad, bad


@pytest.mark.parametrize("mod", sorted(MODS))
def test_no_file_over_the_limit(mod):
    n = len(MODS[mod].read_text().splitlines())
    assert n <= MAX_LINES, f"{MODS[mod]}: {n} lines (split it by job)"


def test_vocabulary_is_a_leaf_and_defined_once():
    for m in MODS:
        if m.startswith("babelscope.vocab"):
            used = {b for b, _, _ in _imports(m) if b.startswith("babelscope")}
            assert used <= {"babelscope.errors"} | {x for x in MODS if x.startswith("babelscope.vocab")}, (m, used)
            continue
        for node in ast.walk(ast.parse(MODS[m].read_text())):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                assert not names & VOCAB_NAMES, f"{m} redefines {names & VOCAB_NAMES} (import it from babelscope.vocab)"
