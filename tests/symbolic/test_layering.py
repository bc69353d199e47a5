"""The symbolic half and the engine stay independent derivations."""

import ast
from pathlib import Path

import gradflow

PACKAGE = Path(gradflow.__file__).parent


def _imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_symbolic_imports_only_the_engines_gate_orders():
    for path in (PACKAGE / "symbolic").glob("*.py"):
        engine = {name for name in _imports(path) if name.startswith("gradflow.engine")}
        assert engine <= {"gradflow.engine.gates"}, (path.name, engine)


def test_the_engine_never_imports_sympy():
    for path in (PACKAGE / "engine").glob("*.py"):
        assert not any(name.split(".")[0] == "sympy" for name in _imports(path)), path.name
    gates = _imports(PACKAGE / "engine" / "gates.py")
    assert {name.split(".")[0] for name in gates} <= {"__future__", "numpy"}
