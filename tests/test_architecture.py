"""The shape of the code: data flows one way, and each layer knows only the one below."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "qa"
#: No module grows past this many lines: one concern each.
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of the package or outside it that ``name`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names]
            found |= {n for n in names if n in modules} or ({target} if node.module else set())
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found - {name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_import_cycles():
    graph = _graph()
    internal = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    # a module reaches itself only through a cycle
    for start in internal:
        seen, todo = set(), list(internal[start])
        while todo:
            module = todo.pop()
            assert module != start, f"{start} imports itself through a cycle"
            if module not in seen:
                seen.add(module)
                todo += internal[module]


def test_the_answer_layer_knows_no_store_engine():
    graph = _graph()
    engines = {"faiss", "bm25s", "pymilvus", "milvus_lite", "qa.index", "qa.milvus_store"}
    for module in ("qa.answer", "qa.features", "qa.question", "qa.followup", "qa.model", "qa.retrieval"):
        assert not graph[module] & engines, (module, graph[module] & engines)


def test_a_store_imports_neither_the_other_store_nor_the_builder():
    graph = _graph()
    for store, other in (("qa.stores.local", "qa.stores.milvus"), ("qa.stores.milvus", "qa.stores.local")):
        assert not graph[store] & {other, "qa.index"}, store
    assert "qa.index" not in graph["qa.milvus_store"]


def test_no_module_is_too_long():
    long = {
        p.name: n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long
