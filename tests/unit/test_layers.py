"""The layering rules of the code, read from the imports with `ast` so they stay true.

Arrows run one way: registry_ui (project wiring, dashboard) -> v2api (the registry) -> accounts
(identity and permissions) -> audit (the audit log, which accounts records logins in) -> oci
(protocol knowledge, no Django). Imports inside functions and
under `if TYPE_CHECKING:` count as much as those at the top of a module.
"""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("oci", "audit", "accounts", "v2api", "registry_ui")
MAX_MODULE_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imported_names(path: Path) -> Iterator[str]:
    """Every module an import statement in `path` names, anywhere in the file; `from package
    import name` names `package.name` where that is a module of ours."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            yield node.module
            yield from (
                f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in MODULES
            )


IMPORTS = {name: set(imported_names(path)) for name, path in MODULES.items()}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def importers(of: str, importing: str) -> list[str]:
    """`module imports name` for each module of package `of` that imports from package `importing`."""
    return sorted(
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if within(module, of)
        for name in names
        if within(name, importing)
    )


@pytest.mark.parametrize(
    "lower, upper",
    [
        ("audit", "accounts"),
        ("audit", "v2api"),
        ("audit", "registry_ui"),
        ("accounts", "v2api"),
        ("accounts", "registry_ui"),
        ("v2api", "registry_ui"),
        ("v2api.storage", "v2api.models"),
        ("v2api.storage", "v2api.services"),
        ("v2api.storage", "v2api.views"),
        ("v2api.storage", "accounts"),
        ("v2api.storage", "django.db"),
    ],
)
def test_a_lower_layer_imports_nothing_from_above_it(lower: str, upper: str) -> None:
    assert importers(lower, upper) == []


def test_oci_imports_only_the_standard_library_and_itself() -> None:
    """Protocol knowledge that accounts and v2api both use, and that never reaches Django."""
    foreign = {
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if within(module, "oci")
        for name in names
        if name.split(".")[0] not in sys.stdlib_module_names and not within(name, "oci")
    }

    assert foreign == set()


def test_no_services_module_imports_a_views_module() -> None:
    found = [
        line
        for package in ("accounts", "v2api")
        for line in importers(f"{package}.services", f"{package}.views")
        + importers(f"{package}.services", "registry_ui.views")
    ]

    assert found == []


def test_no_module_outside_the_views_imports_a_views_module_for_a_helper() -> None:
    """URL confs route to views; nothing else reaches into a views module."""
    found = [
        f"{module} imports {name}"
        for module, names in IMPORTS.items()
        if ".views" not in module and not module.endswith("urls")
        for name in names
        if name in MODULES and (name.endswith(".views") or ".views." in name)
    ]

    assert found == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that reach each other through imports."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowest[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in graph[node]:
            if neighbour not in index:
                visit(neighbour)
                lowest[node] = min(lowest[node], lowest[neighbour])
            elif neighbour in on_stack:
                lowest[node] = min(lowest[node], index[neighbour])
        if lowest[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_two_modules_import_each_other_even_lazily() -> None:
    # A package's __init__ is imported by each of its modules' imports, but ours are empty.
    graph = {
        module: {name for name in names if name in MODULES and name != module} for module, names in IMPORTS.items()
    }

    cycles = [group for group in strongly_connected(graph) if len(group) > 1]

    assert cycles == []


def test_no_module_is_over_400_lines() -> None:
    long_modules = {
        name: lines
        for name, path in MODULES.items()
        if ".migrations." not in name and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }

    assert long_modules == {}


def test_the_authorization_header_is_read_in_one_module() -> None:
    readers = sorted(
        name
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in ("HTTP_AUTHORIZATION", "Authorization")
    )

    # v2api.upstream writes the header, for the upstream a proxy-cache project pulls from.
    assert readers == ["oci.request_edge", "v2api.upstream"]


def test_the_rules_see_the_code() -> None:
    """The rules above would pass on an empty tree; they read every package and real imports."""
    assert {name.split(".")[0] for name in MODULES} == set(PACKAGES)
    assert "oci.request_edge" in IMPORTS["v2api.auth"]
    assert "v2api.auth" in IMPORTS["v2api.fast_reads"]
