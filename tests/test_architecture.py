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


#: The layers, in the order data flows: a module may import its own layer and those
#: before it, never one after it (the interfaces at the top: the engine, the UI, the
#: command line and the developer tools).
LAYERS = (
    ("qa.errors", "qa.config", "qa.console", "qa.progress", "qa.records"),
    ("qa.text",),
    ("qa.ingest",),
    ("qa.embedding",),
    ("qa.stores",),
    ("qa.corpus",),
    ("qa.retrieval",),
    ("qa.answering",),
    ("qa.engine",),
)


def _layer(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return len(LAYERS)  # the interfaces: qa, qa.ui, qa.cli, qa.devtools …


def test_data_flows_one_way_through_the_layers():
    graph = _graph()
    upward = sorted(
        (module, dep) for module, deps in graph.items() for dep in deps if dep in graph and _layer(dep) > _layer(module)
    )
    assert not upward, upward


def test_the_answer_layer_knows_no_store_engine():
    graph = _graph()
    engines = {"faiss", "bm25s", "pymilvus", "milvus_lite"}
    for module in graph:
        if module.startswith(("qa.answering", "qa.retrieval")):
            below = graph[module] & engines | {d for d in graph[module] if d.startswith("qa.stores.")}
            assert not below, (module, below)


def test_a_store_imports_neither_the_other_store_nor_the_builder():
    graph = _graph()
    milvus = {"qa.stores.milvus", "qa.stores.milvus_io"}
    for store, others in (("qa.stores.local", milvus), ("qa.stores.milvus", {"qa.stores.local"})):
        assert not graph[store] & (others | {"qa.corpus.builder"}), store
    assert not {d for d in graph["qa.stores.milvus_io"] if d.startswith("qa.corpus")}


def test_every_backend_offers_the_whole_interface():
    from qa.stores import BACKENDS, Store, StoreBackend

    for name in BACKENDS:
        cls = BACKENDS[name]
        for protocol in (Store, StoreBackend):
            methods = {m for m in vars(protocol) if not m.startswith("_")}
            missing = sorted(m for m in methods if not hasattr(cls, m))
            assert not missing, (name, protocol.__name__, missing)


def test_no_module_is_too_long():
    long = {
        p.name: n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long
