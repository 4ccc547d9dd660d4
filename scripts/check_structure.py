"""Structure check of the ``lexintel`` package: import cycles, SQL outside ``lexintel/store/``, long modules.

    python -m scripts.check_structure          # exit 0 when clean, 1 when anything is found

Read from the source (``ast``), nothing is imported or run:

* **Import cycles.** Every ``import``/``from … import`` anywhere in a module counts (top level, inside
  functions, under ``if TYPE_CHECKING:``): a type-only or a lazy import still ties the two modules together.
  Relative imports are resolved against the importing module's package; ``import a.b.c`` and
  ``from a.b import c`` (``c`` a module) are edges to ``a.b.c``; ``from a.b import name`` (not a module) is an
  edge to ``a.b``, and a package stands for its ``__init__``. Only edges to modules inside the package count.
  Each strongly connected component with more than one module is printed with its shortest cycle, each edge
  with where the import is and whether it is type-only or inside a function. The same is then done one level
  up, with each subpackage (``lexintel.events``, ``lexintel.observability``…) as one node and top-level
  modules as themselves: ``events/ -> observability/ -> events/`` is a cycle between two parts of the code even
  when no single module imports itself back.
* **SQL outside store/.** String literals (an f-string read whole, ``{…}`` as a placeholder) that start,
  after whitespace and in any case, with SELECT, INSERT, UPDATE, DELETE, CREATE, WITH, PRAGMA or REPLACE
  followed by what that statement needs next (``INSERT … INTO``, ``UPDATE t SET``, ``DELETE FROM``,
  ``CREATE TABLE``…), so prose such as "create a user" or ``errors="replace"`` is not reported. Docstrings
  are skipped.
* **Long modules.** Files over ``--max-lines`` lines (400).
"""

from __future__ import annotations

import argparse
import ast
import itertools
import re
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A statement keyword first (after whitespace, any case), then what that statement needs next, so a help text
# ("create a user") or a codec argument ("replace") is not taken for a query.
SQL_START = re.compile(
    r"""\s*(?:
        SELECT\s+\S
      | INSERT\s+(?:OR\s+\w+\s+)?INTO\b
      | REPLACE\s+INTO\b
      | UPDATE\s+(?:OR\s+\w+\s+)?\w+\s+SET\b
      | DELETE\s+FROM\b
      | CREATE\s+(?:(?:UNIQUE|TEMP|TEMPORARY|VIRTUAL)\s+)*(?:TABLE|INDEX|VIEW|TRIGGER)\b
      | WITH\s+(?:RECURSIVE\s+)?\w+\s*(?:\([^)]*\)\s*)?AS\s*\(
      | PRAGMA\s+\w
    )""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class Module:
    name: str  # dotted; a package is named by its directory and stands for its __init__.py
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Edge:
    target: str
    line: int
    kind: str  # "", "type-only" or "in function"


def find_modules(package_dir: Path) -> dict[str, Module]:
    """Every module of the package under ``package_dir``, by dotted name."""
    base = package_dir.parent
    modules: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = Module(".".join(parts), path, is_package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    """Collects (imported module names, line, kind) while tracking TYPE_CHECKING blocks and function bodies."""

    def __init__(self, module: Module, known: dict[str, Module]) -> None:
        self.module = module
        self.known = known
        self.edges: list[Edge] = []
        self._type_only = 0
        self._in_function = 0

    def _kind(self) -> str:
        if self._type_only:
            return "type-only"
        return "in function" if self._in_function else ""

    def _add(self, target: str, line: int) -> None:
        # ``import a.b.c`` where only ``a.b`` is ours (c is an attribute, say): take the longest known prefix.
        while target and target not in self.known:
            target = target.rpartition(".")[0]
        if target and target != self.module.name:
            self.edges.append(Edge(target, line, self._kind()))

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self._type_only += 1
            for child in node.body:
                self.visit(child)
            self._type_only -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._in_function += 1
        self.generic_visit(node)
        self._in_function -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.package.split(".")
            if node.level > 1:
                base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base)
            source = f"{prefix}.{node.module}" if node.module else prefix
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            self._add(submodule if submodule in self.known else source, node.lineno)


def import_graph(modules: dict[str, Module]) -> dict[str, dict[str, Edge]]:
    """module -> {imported module -> first edge to it} (a runtime edge wins over a type-only one)."""
    graph: dict[str, dict[str, Edge]] = {}
    for name, module in modules.items():
        collector = _ImportCollector(module, modules)
        collector.visit(ast.parse(module.path.read_text(encoding="utf-8"), str(module.path)))
        targets: dict[str, Edge] = {}
        for edge in collector.edges:
            known = targets.get(edge.target)
            if known is None or (known.kind and not edge.kind):
                targets[edge.target] = edge
        graph[name] = targets
    return graph


def strongly_connected(graph: dict[str, dict[str, Edge]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit); components in discovery order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def cycle_through(graph: dict[str, dict[str, Edge]], members: set[str], start: str) -> list[str]:
    """The shortest cycle from ``start`` back to itself inside ``members`` (BFS), as a closed path."""
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in graph[node]:
            if child not in members:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return [*reversed(path), start]
            if child not in parents:
                parents[child] = node
                queue.append(child)
    return []


def cycles_in(graph: dict[str, dict[str, Edge]], component: list[str]) -> list[list[str]]:
    """The shortest cycle through each member of a component, without repeats, shortest first.

    The first is the component's shortest cycle; the others show every member's way back to itself, so a
    component that joins several cycles shows each of them.
    """
    members = set(component)
    seen: set[frozenset[tuple[str, str]]] = set()
    cycles: list[list[str]] = []
    for start in component:
        cycle = cycle_through(graph, members, start)
        key = frozenset(itertools.pairwise(cycle))
        if cycle and key not in seen:
            seen.add(key)
            cycles.append(cycle)
    return sorted(cycles, key=len)


def package_graph(graph: dict[str, dict[str, Edge]], root: str) -> dict[str, dict[str, tuple[str, Edge]]]:
    """The graph between parts: ``root.sub.x`` counts as ``root.sub``; each edge keeps one module edge behind it."""

    def part(name: str) -> str:
        return ".".join(name.split(".")[:2]) if name.startswith(root + ".") else name

    parts: dict[str, dict[str, tuple[str, Edge]]] = {}
    for source, targets in sorted(graph.items()):
        out = parts.setdefault(part(source), {})
        for target, edge in targets.items():
            if part(target) != part(source):
                known = out.get(part(target))
                if known is None or (known[1].kind and not edge.kind):
                    out[part(target)] = (source, edge)
    for source in graph:
        parts.setdefault(part(source), {})
    return parts


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def sql_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal in ``path`` that looks like SQL."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _docstring_nodes(tree)
    fstrings = [node for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)]
    for node in fstrings:
        skip.update(id(part) for part in node.values)  # read with their f-string, below
    texts = [(node.lineno, node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip]
    for node in fstrings:  # read whole, each ``{…}`` standing for a value
        text = "".join(str(p.value) if isinstance(p, ast.Constant) else "{}" for p in node.values)
        texts.append((node.lineno, text))
    return sorted((line, " ".join(text.split())) for line, text in texts if SQL_START.match(text))


def report_module_cycles(modules: dict[str, Module], graph: dict[str, dict[str, Edge]], base: Path) -> int:
    components = [c for c in strongly_connected(graph) if len(c) > 1]
    print(f"import cycles: {len(components)} strongly connected component(s) with more than one module")
    for component in components:
        print(f"  component of {len(component)}: {', '.join(component)}")
        for number, cycle in enumerate(cycles_in(graph, component)):
            print(f"    {'shortest cycle' if number == 0 else 'also'} ({len(cycle) - 1} imports):")
            for source, target in itertools.pairwise(cycle):
                edge = graph[source][target]
                note = f" ({edge.kind})" if edge.kind else ""
                print(f"      {source} -> {target}  [{modules[source].path.relative_to(base)}:{edge.line}]{note}")
    return len(components)


def report_part_cycles(modules: dict[str, Module], graph: dict[str, dict[str, Edge]], base: Path, root: str) -> int:
    parts = package_graph(graph, root)
    part_graph = {source: dict.fromkeys(targets, Edge("", 0, "")) for source, targets in parts.items()}
    components = [c for c in strongly_connected(part_graph) if len(c) > 1]
    print(f"import cycles between subpackages: {len(components)} component(s) with more than one part")
    for component in components:
        print(f"  component of {len(component)}: {', '.join(component)}")
        for number, cycle in enumerate(cycles_in(part_graph, component)):
            label = "shortest cycle" if number == 0 else "also"
            print(f"    {label} ({len(cycle) - 1} imports), with one module import behind each:")
            for source, target in itertools.pairwise(cycle):
                importer, edge = parts[source][target]
                where = f"{modules[importer].path.relative_to(base)}:{edge.line}"
                note = f" ({edge.kind})" if edge.kind else ""
                print(f"      {source} -> {target}  [{importer} -> {edge.target}, {where}]{note}")
    return len(components)


def report_sql(modules: dict[str, Module], store: Path, base: Path) -> int:
    found = [(m.path, line, text) for m in modules.values() if store not in m.path.parents
             for line, text in sql_literals(m.path)]
    print(f"SQL outside {store.relative_to(base)}/: {len(found)} string literal(s)")
    for path, line, text in found:
        print(f"  {path.relative_to(base)}:{line}: {text[:90]}{'…' if len(text) > 90 else ''}")
    return len(found)


def report_long_modules(modules: dict[str, Module], max_lines: int, base: Path) -> int:
    sizes = ((len(m.path.read_text(encoding="utf-8").splitlines()), m.path) for m in modules.values())
    long_modules = sorted(((n, path) for n, path in sizes if n > max_lines), reverse=True)
    print(f"modules over {max_lines} lines: {len(long_modules)}")
    for lines, path in long_modules:
        print(f"  {path.relative_to(base)}: {lines} lines")
    return len(long_modules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--package", type=Path, default=ROOT / "lexintel", help="package directory to check")
    parser.add_argument("--max-lines", type=int, default=400, help="longest module allowed")
    args = parser.parse_args(argv)
    package_dir: Path = args.package.resolve()
    base = package_dir.parent
    modules = find_modules(package_dir)
    graph = import_graph(modules)
    problems = (
        report_module_cycles(modules, graph, base)
        + report_part_cycles(modules, graph, base, package_dir.name)
        + report_sql(modules, package_dir / "store", base)
        + report_long_modules(modules, args.max_lines, base)
    )
    print("structure: OK" if not problems else f"structure: {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
