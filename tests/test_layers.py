"""The layers of DESIGN.md §2: a lower layer never imports a higher one, and core is pure NumPy."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "datamap"

# bottom to top; a module may import its own layer and those listed before it
ORDER = ["core", "io", "eval", "training", "views", "stages", "interfaces"]
INTERFACES = {"cli", "api", "hf", "__init__", "__main__", "config", "experiment"}
CORE_THIRD_PARTY = {"numpy"}


def layer_of(module: str) -> str | None:
    """'datamap.io.store' -> 'io'; 'datamap.errors', 'datamap.console' -> None (the base every layer may use)."""
    parts = module.split(".")
    if parts[0] != "datamap":
        return None
    if len(parts) > 1 and parts[1] in ("errors", "console"):
        return None
    if len(parts) == 1 or parts[1] in INTERFACES or parts[1] not in ORDER:  # `from datamap import x` too
        return "interfaces"
    return parts[1]


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module imported anywhere in the file (also inside functions), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
    return out


FILES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_of_a_higher_layer(path):
    rel = path.relative_to(SRC)
    own = layer_of("datamap." + ".".join(rel.with_suffix("").parts))
    if own is None:  # errors.py, console.py: the base
        assert not [m for _, m in imports(path) if m.startswith("datamap.") and layer_of(m) is not None]
        return
    for line, module in imports(path):
        target = layer_of(module) if module.startswith("datamap") else None
        if target is not None:
            assert ORDER.index(target) <= ORDER.index(own), f"{rel}:{line} ({own}) imports {module} ({target})"
        if own == "core":
            top = module.split(".")[0]
            assert top in CORE_THIRD_PARTY or top in sys.stdlib_module_names or module.startswith("datamap.core"), (
                f"{rel}:{line}: core imports {module}; core is NumPy and the standard library only"
            )
