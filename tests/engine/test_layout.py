"""The engine stays in small pieces: ``network.py`` orchestrates only (at most 400
lines), and no function of the engine is longer than 80 lines but the compiled
numeric kernels (``@njit`` in ``_fused/``)."""

import ast
from pathlib import Path

import gradflow.engine

ENGINE = Path(gradflow.engine.__file__).parent


def _is_kernel(node: ast.FunctionDef) -> bool:
    names = {d.func.id if isinstance(d, ast.Call) and isinstance(d.func, ast.Name) else
             getattr(d, "id", None) for d in node.decorator_list}
    return "njit" in names


def test_network_is_orchestration_sized():
    assert len((ENGINE / "network.py").read_text().splitlines()) <= 400


def test_no_engine_function_over_80_lines_but_kernels():
    long = []
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.end_lineno - node.lineno + 1 > 80 and not _is_kernel(node):
                long.append(f"{path.relative_to(ENGINE)}:{node.name}")
    assert long == []
