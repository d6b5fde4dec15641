"""The shape of the contest package, read from its source with `ast`: no import cycle between its
modules, no private name of nnlib or augment, files under 400 lines, functions under 40."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "contest").rglob("*.py"))
OTHER_PACKAGES = ("nnlib", "augment")


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): ast.parse(path.read_text(), str(path)) for path in SOURCES}


def imported(tree):
    """(module, name or None) of every import statement, at the top or inside a function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield from ((node.module, alias.name) for alias in node.names)


def contest_imports(tree):
    """The contest modules a module imports ('from contest import robustness' included)."""
    found = set()
    for module, name in imported(tree):
        if name is not None and f"{module}.{name}" in MODULES:
            found.add(f"{module}.{name}")
        elif module in MODULES and module.count(".") and not module.endswith("__init__"):
            found.add(module)
    return found


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None
    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_contest_modules_import_each_other_one_way_only():
    graph = {name: contest_imports(tree) - {name} for name, tree in MODULES.items()}
    assert graph["contest.train.run"] >= {"contest.train.local", "contest.train.cluster"}
    assert find_cycle(graph) is None


def private_uses(tree):
    """'module.name' of every private nnlib/augment name a module imports or reads."""
    aliases = {alias.asname or alias.name: alias.name for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    for module, name in imported(tree):
        if module.split(".")[0] in OTHER_PACKAGES:
            dotted = module.split(".") + ([name] if name else [])
            if any(part.startswith("_") for part in dotted):
                yield ".".join(dotted)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            target = aliases.get(node.value.id, "")
            if target.split(".")[0] in OTHER_PACKAGES and node.attr.startswith("_"):
                yield f"{target}.{node.attr}"


def test_the_private_name_finder_finds_them():
    tree = ast.parse("import nnlib as nn\nfrom augment.sampling import _split\nnn._order\n")
    assert sorted(private_uses(tree)) == ["augment.sampling._split", "nnlib._order"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_of_nnlib_or_augment(name):
    assert list(private_uses(MODULES[name])) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: module_name(path))
def test_files_under_400_lines_and_functions_under_40(path):
    assert len(path.read_text().splitlines()) < 400
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > 40]
    assert long == []
