"""The package-level import graph of modelspec, read from the source with `ast`.

Why: import-linter sees only what Python would import at start-up if told so;
an import inside a function still ties two packages together.  This script
counts every import statement (module level and inside functions alike),
prints the graph between packages, its cycles, and the imports of
modelspec's own modules that sit inside functions (each should say why:
``# lazy: <reason>`` on its line or the line above).

Usage: ``python bench/import_graph.py [--list]`` (``--list`` prints every
in-function import with its reason).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modelspec.ir.components import strongly_connected  # noqa: E402 - after the path

PKG = "modelspec"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(mod: str) -> str:
    """The unit of the graph: ``modelspec.X`` for a subpackage or a top-level module."""
    parts = mod.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else mod


def resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    p = parents.get(node)
    while p is not None:
        if isinstance(p, ast.If) and "TYPE_CHECKING" in ast.unparse(p.test):
            return True
        p = parents.get(p)
    return False


def in_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    p = parents.get(node)
    while p is not None:
        if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
        p = parents.get(p)
    return False


def imports(modules: set[str]) -> list[tuple[str, str, bool, str, int, str]]:
    """(importer, imported, inside a function, file, line, reason) for every own import."""
    out = []
    for path in sorted((ROOT / PKG).rglob("*.py")):
        mod = module_name(path)
        src = path.read_text()
        lines = src.splitlines()
        tree = ast.parse(src)
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = resolve(mod, path.name == "__init__.py", node)
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.append(sub if sub in modules else base)
            targets = [t for t in targets if t == PKG or t.startswith(PKG + ".")]
            if not targets or in_type_checking(node, parents):
                continue
            near = " ".join(lines[max(0, node.lineno - 2): node.lineno])
            reason = near.split("# lazy:", 1)[1].strip() if "# lazy:" in near else ""
            for t in targets:
                out.append((mod, t, in_function(node, parents), str(path.relative_to(ROOT)), node.lineno, reason))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node."""
    comps = strongly_connected(sorted(graph), lambda v: sorted(graph.get(v, ())))
    return sorted(sorted(c) for c in comps if len(c) > 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="print every in-function import with its reason")
    args = ap.parse_args()
    modules = {module_name(p) for p in (ROOT / PKG).rglob("*.py")}
    edges = imports(modules)
    pkg_graph: dict[str, set[str]] = defaultdict(set)
    mod_graph: dict[str, set[str]] = defaultdict(set)
    for a, b, _lazy, *_ in edges:
        if a != b:
            mod_graph[a].add(b)
        pa, pb = package_of(a), package_of(b)
        if pa != pb and pb != PKG:
            pkg_graph[pa].add(pb)
    short = lambda m: m.removeprefix(PKG + ".")  # noqa: E731
    print("package graph (importer -> imported, counting in-function imports):")
    for p in sorted(pkg_graph):
        print(f"  {short(p)} -> {', '.join(short(q) for q in sorted(pkg_graph[p]))}")
    pc = cycles(pkg_graph)
    print(f"package cycles: {len(pc)}")
    for c in pc:
        print("  " + " <-> ".join(short(m) for m in c))
    mc = cycles(mod_graph)
    print(f"module cycles: {len(mc)}")
    for c in mc:
        print("  " + " <-> ".join(short(m) for m in c))
    lazy = [e for e in edges if e[2]]
    stmts = {(e[3], e[4]) for e in lazy}
    unexplained = {(e[3], e[4]) for e in lazy if not e[5]}
    print(f"in-function imports of modelspec modules: {len(stmts)} statements "
          f"({len(unexplained)} without a '# lazy:' reason)")
    if args.list:
        seen = set()
        for a, b, _l, f, line, reason in lazy:
            if (f, line) in seen:
                continue
            seen.add((f, line))
            print(f"  {f}:{line}: {short(b)}  # {reason or '(no reason)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
