"""oci holds what the specs say and nothing of the registry: it imports the standard library and
itself only, so accounts and v2api may both use it and it never reaches Django."""

import ast
import sys
from pathlib import Path

import oci


def imported_modules(path: Path) -> set[str]:
    """The top-level package of every import in `path`, lazy ones inside functions included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_oci_imports_only_the_standard_library_and_itself() -> None:
    package = Path(oci.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert modules

    for path in modules:
        foreign = imported_modules(path) - set(sys.stdlib_module_names) - {"oci"}
        assert not foreign, f"{path.name} imports {sorted(foreign)}"
