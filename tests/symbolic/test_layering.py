"""The symbolic half and the engine stay independent derivations, tied only by tests."""

import ast
import subprocess
import sys
from pathlib import Path

import gradflow

PACKAGE = Path(gradflow.__file__).parent
ROOT = PACKAGE.parent


def _imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _modules_loaded_by(statement):
    """gradflow modules in ``sys.modules`` after ``statement`` in a fresh interpreter."""
    code = (f"import sys; {statement}; "
            "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('gradflow'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    return set(out.stdout.split())


def test_importing_symbolic_loads_no_engine_module():
    loaded = _modules_loaded_by("import gradflow.symbolic; gradflow.symbolic.derive('gru')")
    assert "gradflow.symbolic.derivation" in loaded      # the probe saw the import
    assert not {m for m in loaded if m.startswith("gradflow.engine")}, loaded


def test_the_probe_sees_an_engine_import():
    # The check above can fail: importing the engine is visible to the same probe.
    assert "gradflow.engine.network" in _modules_loaded_by("import gradflow.engine")


def test_symbolic_sources_never_import_the_engine():
    for path in (PACKAGE / "symbolic").glob("*.py"):
        engine = {name for name in _imports(path) if name.startswith("gradflow.engine")}
        assert not engine, (path.name, engine)


def test_the_engine_never_imports_sympy():
    for path in (PACKAGE / "engine").glob("*.py"):
        assert not any(name.split(".")[0] == "sympy" for name in _imports(path)), path.name


def test_conventions_import_nothing_heavy():
    names = _imports(PACKAGE / "conventions.py")
    assert {name.split(".")[0] for name in names} <= {"__future__", "typing", "numpy",
                                                       "gradflow"}
    assert {n for n in names if n.startswith("gradflow")} <= {"gradflow._validate"}
