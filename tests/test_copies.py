"""`# Copied from` blocks (transformers' convention for modeling files that must run alone as remote code) stay
identical to their originals."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "label_semantics"
MARKER = re.compile(r"^\s*# Copied from (label_semantics\.[\w.]+)")


def _definitions(path: Path) -> dict[str, ast.AST]:
    """Every function and class of a module by qualified name (`Class.method`, `function`)."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            found[node.name] = node
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[f"{node.name}.{item.name}"] = item
        elif isinstance(node, ast.FunctionDef):
            found[node.name] = node
    return found


def _copies() -> list[tuple[Path, int, str]]:
    result = []
    for path in sorted(PACKAGE.glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = MARKER.match(line)
            if match:
                result.append((path, number, match.group(1)))
    return result


def _source(path: Path, node: ast.AST) -> str:
    """The node's code without its docstring: the copy may say where it lives."""
    lines = path.read_text(encoding="utf-8").splitlines()[node.lineno - 1 : node.end_lineno]
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        doc = body[0]
        drop = range(doc.lineno - node.lineno, doc.end_lineno - node.lineno + 1)
        lines = [line for i, line in enumerate(lines) if i not in drop]
    return "\n".join(line.strip() for line in lines)


def test_the_package_has_copies():
    assert len(_copies()) >= 2


@pytest.mark.parametrize(("path", "line", "target"), _copies(), ids=lambda value: str(value).split("/")[-1])
def test_copied_code_matches_its_original(path, line, target):
    module_name, _, qualname = target.removeprefix("label_semantics.").partition(".")
    original_path = PACKAGE / f"{module_name}.py"
    originals = _definitions(original_path)
    assert qualname in originals, f"{path.name}:{line} copies {target}, which does not exist"
    copies = {node.lineno: node for node in _definitions(path).values()}
    # the definition right below the marker (after any further comment lines)
    copy = min((node for lineno, node in copies.items() if lineno > line), key=lambda node: node.lineno)
    assert _source(path, copy) == _source(original_path, originals[qualname]), (
        f"{path.name}:{copy.lineno} no longer matches {target}; change both or drop the marker"
    )
    importlib.import_module(f"label_semantics.{module_name}")
