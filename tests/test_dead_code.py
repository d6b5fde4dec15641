"""No dead code in contest, read from the source with `ast` (docs/CONTRIBUTING.md, "Dead code"):

- no import a module never uses (package `__init__` files re-export, and a line marked `noqa`
  says why it imports for a side effect);
- no module-level function, class or constant that nothing uses: its name appears nowhere in
  contest, tests or benchmarks but its own definition. A use counts wherever it is: a name, an
  attribute, an import, or a dotted string such as a monkeypatch target. Decorated functions
  (click commands, FastAPI routes, context managers used by name) are registered by their
  decorator, and names starting with "__" belong to Python.

A check of our own rather than vulture: it knows these two rules and nothing else, so it needs no
list of exceptions for click, FastAPI or dataclasses, and no dependency.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USERS = ("contest", "tests", "benchmarks")   # where a use of a contest name may be


def parse(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def names_used(tree):
    """Every identifier the module reads: names, attributes, imported names, dotted strings."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            used.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            used.update(part for part in node.value.replace(":", ".").split(".")
                        if part.isidentifier())
    return used


def module_definitions(tree):
    """(name, line) of the module-level undecorated functions and classes and assigned names."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if not node.decorator_list:
                yield node.name, node.lineno
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            yield from ((t.id, node.lineno) for t in targets if isinstance(t, ast.Name))


def unused_imports(path):
    """(name, line) of the names the module imports and never reads."""
    tree, lines = parse(path), path.read_text(encoding="utf-8").splitlines()
    read = {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    exported = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__"
                                                for t in node.targets):
            exported = {element.value for element in node.value.elts}
    return [(alias.asname or alias.name.split(".")[0], node.lineno)
            for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
            and "noqa" not in lines[node.lineno - 1]
            for alias in node.names
            if (alias.asname or alias.name.split(".")[0]) not in read | exported]


def dead_definitions(paths, users):
    """"path:line name" of the definitions in `paths` that no file of `users` reads."""
    used_by = {path: names_used(parse(path)) for path in users}
    found = []
    for path in paths:
        for name, line in module_definitions(parse(path)):
            if not name.startswith("__") and not any(name in used for used in used_by.values()):
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                found.append(f"{where}:{line} {name}")
    return found


def contest_files():
    return sorted((ROOT / "contest").rglob("*.py"))


def test_the_checks_find_dead_code(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("import os\nimport sys  # noqa: F401 (side effect)\nfrom json import dumps\n"
                      "LIMIT = 3\nUSED = 4\n\n\ndef helper():\n    return dumps(USED)\n\n\n"
                      "def patched():\n    pass\n")
    user = tmp_path / "user.py"
    user.write_text("from module import helper\nmonkeypatch.setattr('module.patched', None)\n")
    assert unused_imports(module) == [("os", 1)]
    assert dead_definitions([module], [module, user]) == ["module.py:4 LIMIT"]


def test_contest_imports_only_what_it_uses():
    found = [f"{path.relative_to(ROOT)}:{line}: {name}" for path in contest_files()
             if path.name != "__init__.py" for name, line in unused_imports(path)]
    assert found == [], "unused imports:\n" + "\n".join(found)


def test_every_contest_definition_is_used():
    users = [path for folder in USERS for path in sorted((ROOT / folder).rglob("*.py"))]
    found = dead_definitions(contest_files(), users)
    assert found == [], "defined but never used (remove it):\n" + "\n".join(found)
