"""The partner service calls the scopes service (offboarding revokes every scope), so the
scopes and agreements services must not import the partner service back: they use
``partners.records``. A cycle would make import order decide whether the app starts."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[3] / "vendor_risk"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_services_below_the_partner_service_do_not_import_it() -> None:
    for name in ("scopes/service.py", "agreements/service.py", "partners/records.py", "sweeps.py"):
        modules = imported_modules(PACKAGE / name)
        assert "vendor_risk.partners.service" not in modules, name


def test_the_partner_service_imports_the_scopes_service_at_the_top() -> None:
    tree = ast.parse((PACKAGE / "partners/service.py").read_text(encoding="utf-8"))
    top = {n.module for n in tree.body if isinstance(n, ast.ImportFrom)}
    assert "vendor_risk.scopes.service" in top
    nested = [
        n
        for f in tree.body
        if isinstance(f, ast.AsyncFunctionDef | ast.FunctionDef)
        for n in ast.walk(f)
        if isinstance(n, ast.ImportFrom | ast.Import)
    ]
    assert nested == []
