"""The layout rules of docs/CONTRIBUTING.md, read from the source with `ast`:

- one direction of dependency: nnlib uses only the standard library and NumPy, augment only those
  and SciPy, and no import cycle inside contest (function-level imports count: a cycle hidden in
  a function body is still a cycle);
- contest uses only the public names of nnlib and augment (no `_private` module, name or attribute);
- every file under 400 lines and every function under 40, in the packages, benchmarks and
  tests alike, except the ones listed in SIZE_EXCEPTIONS with their reason (and in
  CONTRIBUTING's "Exceptions to the size rules");
- contest's top level holds only the modules of CONTEST_TOP_LEVEL (everything else lives in a
  subpackage that says what it holds), and no 28 or 784 (MNIST's side and pixel count) appears
  as a number in contest's code outside MNIST_FILES: everything else reads the input spec;
- `python -m contest --help` works.
"""
import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nnlib", "augment", "contest")
SIZE_CHECKED = PACKAGES + ("benchmarks", "tests")   # the size rules hold for every Python file
ALLOWED_THIRD_PARTY = {"nnlib": {"numpy"}, "augment": {"numpy", "scipy"}}
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 40
# "path" (a file) or "path:qualified.function" -> the reason it may be longer; keep it in step
# with docs/CONTRIBUTING.md. An entry that no longer applies fails too.
SIZE_EXCEPTIONS = {}
# contest's top-level modules (docs/CONTRIBUTING.md, "Layout"); a new module goes into a subpackage
CONTEST_TOP_LEVEL = {"__init__", "__main__", "api", "errors", "fileio", "blas_threads"}
# the only files that may know MNIST's 28x28 (784 pixels): the dataset, its spec, and the recipe
# that centres an outside digit as MNIST's were (the decoder's decode_pictures.py)
MNIST_FILES = {"contest/data/datasets.py", "contest/data/spec.py",
               "contest/data/decode_pictures.py"}
MNIST_NUMBERS = (28, 784)


def source_files(package):
    return sorted((ROOT / package).rglob("*.py"))


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def parse(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(path):
    """(absolute module name, line, names imported from it) of every import in the file, at any
    depth (function-level imports included); relative imports are resolved."""
    found = []
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module_name(path)
                if path.name != "__init__.py":
                    package = package.rpartition(".")[0]
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.append((base, node.lineno, tuple(alias.name for alias in node.names)))
    return found


def all_modules():
    return {module_name(path) for package in PACKAGES for path in source_files(package)}


def test_the_packages_have_sources():
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package
        assert len(source_files(package)) > 1, package


@pytest.mark.parametrize("package", sorted(ALLOWED_THIRD_PARTY))
def test_library_packages_import_only_their_allowed_dependencies(package):
    allowed = ALLOWED_THIRD_PARTY[package] | {package}
    stdlib = set(sys.stdlib_module_names)
    offending = [f"{path.relative_to(ROOT)}:{line}: imports {name}"
                 for path in source_files(package)
                 for name, line, _ in imported_modules(path)
                 if name.split(".")[0] not in allowed | stdlib]
    assert offending == [], "\n".join(offending)


def contest_import_graph():
    """contest module -> {(contest module it imports, line)}: `from contest.data import datasets`
    points at contest.data.datasets when that is a module, else at the package."""
    modules = all_modules()
    graph = {}
    for path in source_files("contest"):
        edges = graph.setdefault(module_name(path), set())
        for name, line, names in imported_modules(path):
            if name.split(".")[0] != "contest":
                continue
            targets = [f"{name}.{n}" for n in names if f"{name}.{n}" in modules]
            if len(targets) < len(names) or not names:
                targets.append(name)
            edges.update((target, line) for target in targets if target in modules)
    return graph


def find_cycle(graph):
    """One cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target, _ in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {("b", 1)}, "b": {("c", 1)}, "c": {("a", 1)}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {("b", 1), ("c", 1)}, "b": {("c", 1)}, "c": set()}) is None


def test_no_import_cycle_inside_contest():
    graph = contest_import_graph()
    assert graph["contest.cli"], "the graph must see contest.cli's imports"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(path):
    """Private names of nnlib or augment that the file imports or reaches as attributes of a
    name bound to them (`import nnlib as nn` then `nn._x`)."""
    libraries = ("nnlib", "augment")
    found, bound = [], set()
    for name, line, names in imported_modules(path):
        if name.split(".")[0] not in libraries:
            continue
        found += [f"{line}: {name}" for part in name.split(".") if is_private(part)]
        found += [f"{line}: {name}.{n}" for n in names if is_private(n)]
    tree = parse(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound |= {a.asname or a.name.split(".")[0] for a in node.names
                      if a.name.split(".")[0] in libraries}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in libraries:
            bound |= {a.asname or a.name for a in node.names}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and is_private(node.attr)
                and isinstance(node.value, ast.Name) and node.value.id in bound):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_private_use_detection(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import nnlib as nn\nfrom augment.pixel import _blur, PixelAugmenter\n"
                      "from nnlib import _threads\nx = nn._order\ny = PixelAugmenter._rng\n"
                      "z = nn.__version__\nimport os\nw = os._exit\n")
    assert private_uses(sample) == ["2: augment.pixel._blur", "3: nnlib._threads",
                                    "4: nn._order", "5: PixelAugmenter._rng"]


def test_contest_uses_only_public_names_of_nnlib_and_augment():
    offending = [f"{path.relative_to(ROOT)}:{use}"
                 for path in source_files("contest") for use in private_uses(path)]
    assert offending == [], "\n".join(offending)


def long_functions(path):
    """(qualified name, lines) of every function and method, nested ones included."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    found.append((name, child.end_lineno - child.lineno + 1))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(parse(path), "")
    return found


def size_violations():
    """{key: description} of every file and function over the limits, exceptions included."""
    violations = {}
    for package in SIZE_CHECKED:
        for path in source_files(package):
            rel = path.relative_to(ROOT).as_posix()
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines >= MAX_FILE_LINES:
                violations[rel] = f"{lines} lines"
            for name, length in long_functions(path):
                if length >= MAX_FUNCTION_LINES:
                    violations[f"{rel}:{name}"] = f"{length} lines"
    return violations


def test_files_and_functions_are_short_or_listed_with_a_reason():
    violations = size_violations()
    unlisted = [f"{key} ({size})" for key, size in sorted(violations.items())
                if key not in SIZE_EXCEPTIONS]
    assert unlisted == [], (f"over {MAX_FILE_LINES} lines per file / {MAX_FUNCTION_LINES} per "
                            f"function:\n" + "\n".join(unlisted))


def test_size_exceptions_name_a_reason_still_apply_and_are_documented():
    contributing = (ROOT / "docs" / "CONTRIBUTING.md").read_text(encoding="utf-8")
    violations = size_violations()
    for key, reason in SIZE_EXCEPTIONS.items():
        assert isinstance(reason, str) and len(reason.split()) >= 3, f"{key}: give the reason"
        assert key in violations, f"{key} is within the limits now: drop its exception"
        assert key in contributing, f"{key}: list it in docs/CONTRIBUTING.md with its reason"


def test_function_length_measure(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("class A:\n    def method(self):\n        def inner():\n            return 1\n"
                      "        return inner\n")
    assert long_functions(sample) == [("A.method", 4), ("A.method.inner", 2)]


def test_python_m_contest_help_works():
    result = subprocess.run([sys.executable, "-m", "contest", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for command in ("train-ensemble", "predict", "evaluate", "score", "export"):
        assert command in result.stdout


def test_version_is_written_once_and_reported_by_the_cli():
    import contest

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    result = subprocess.run([sys.executable, "-m", "contest", "--version"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == contest.__version__


def test_distribution_declares_every_third_party_import_and_ships_mnist():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["name"] not in PACKAGES, "that name belongs to another project on the index"
    declared = {dep.split(">")[0].split("=")[0].split("[")[0].split(";")[0].strip().lower()
                for dep in project["dependencies"] + [
                    dep for extra, deps in project["optional-dependencies"].items()
                    if extra != "test" for dep in deps]}
    distribution_of = {"PIL": "pillow", "distributed": "dask", "dask": "dask",
                       "fastapi_offline": "fastapi-offline"}
    stdlib = set(sys.stdlib_module_names) | set(PACKAGES)
    missing = {f"{name} ({path.relative_to(ROOT)}:{line})"
               for package in PACKAGES for path in source_files(package)
               for name, line, _ in imported_modules(path)
               if name.split(".")[0] not in stdlib
               and distribution_of.get(name.split(".")[0], name.split(".")[0]).lower()
               not in declared}
    assert missing == set(), "undeclared imports: " + ", ".join(sorted(missing))
    assert pyproject["tool"]["setuptools"]["package-data"]["contest.data"] == ["mnist/*.gz"]
    assert len(list((ROOT / "contest" / "data" / "mnist").glob("*.gz"))) == 4


def test_install_hints_name_this_distribution():
    """`pip install "contest[dask]"` would install another project's package from the index."""
    import re

    name = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    wrong = re.compile(r"""pip install ["']?(contest|nnlib|augment)\[""")
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    texts += [path for package in PACKAGES for path in source_files(package)]
    offending = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in texts
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if wrong.search(line)]
    assert offending == [], f"install hints must name {name}:\n" + "\n".join(offending)
    assert f'pip install "{name}[dask]"' in (ROOT / "docs" / "dask.md").read_text(encoding="utf-8")


def test_contest_top_level_holds_only_the_agreed_modules():
    found = {path.stem for path in (ROOT / "contest").glob("*.py")}
    assert found - CONTEST_TOP_LEVEL == set(), (
        "put new modules into a contest subpackage (or agree on them in CONTEST_TOP_LEVEL and "
        "CONTRIBUTING's layout)")
    assert CONTEST_TOP_LEVEL - found == set(), "drop the modules that are gone from the list"


def mnist_numbers(path):
    """Lines of the integer literals 28 and 784 in the file's code (not its strings)."""
    return [node.lineno for node in ast.walk(parse(path))
            if isinstance(node, ast.Constant) and type(node.value) is int
            and node.value in MNIST_NUMBERS]


def test_mnist_number_detection(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('side = 28\ntext = "28x28, 784 pixels"\nflat = x.reshape(-1, 784)\n'
                      'ratio = 28.5\n')
    assert mnist_numbers(sample) == [1, 3]


def test_no_mnist_sizes_outside_the_mnist_files():
    offending = [f"{path.relative_to(ROOT)}:{line}" for path in source_files("contest")
                 if path.relative_to(ROOT).as_posix() not in MNIST_FILES
                 for line in mnist_numbers(path)]
    assert offending == [], ("28/784 in code that takes any images (read the input spec):\n"
                             + "\n".join(offending))
