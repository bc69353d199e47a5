"""gradflow keeps no hidden process-wide state: using it changes no environment
variable, no numba setting and no allocator setting of the user's process.

Each check runs in a fresh interpreter, so nothing imported by other tests hides
a change (numba reads its settings once, at its first import).
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("numba")

#: Prints numba's settings as JSON (every upper-case name of ``numba.config``).
_DUMP_NUMBA_CONFIG = """
import json, numba.core.config as c
print(json.dumps({k: repr(getattr(c, k)) for k in sorted(dir(c)) if k.isupper()}))
"""

#: Everything a user does with gradflow, on both backends.
_WORKLOAD = """
import os, sys, json
# threadpoolctl (a dependency, which the sweep and the kernels use to hold BLAS threads)
# sets KMP_DUPLICATE_LIB_OK at its own import, with setdefault; it is imported before
# the snapshot, so what is checked is what gradflow itself does.
import threadpoolctl
before = dict(os.environ)
import numpy as np
import gradflow
import gradflow.engine
from gradflow.engine import use_backend
from gradflow.sweep import run_grid

def run(config):
    net = gradflow.Network(config["cell"], input_size=2, hidden_size=3)
    params = net.init(seed=0)
    trace = net.forward(params, np.ones((4, 2, 2)))
    return [{"norm": float(np.abs(net.backward(params, trace, trace.outputs).inputs).sum())}]

tiny = np.finfo(np.float64).tiny
for backend in ("numba", "numba+ftz", "numpy"):
    with use_backend(backend):
        for cell in ("rnn", "lstm", "gru"):
            net = gradflow.Network(cell, input_size=2, hidden_size=4, dtype="float32")
            params = net.init(seed=1)
            trace = net.forward(params, np.ones((5, 3, 2), np.float32))
            net.backward(params, trace, trace.outputs)
            net.step_jacobians(params, trace)
            gradflow.train(net, gradflow.tasks.AddingProblem(length=6), steps=3,
                           batch_size=4, seed=0, progress=False)
    assert tiny * 0.5 > 0, "the caller's floating-point mode changed"
run_grid(run, [{"cell": "rnn"}, {"cell": "gru"}], jobs=1, progress=False)
run_grid(run, [{"cell": "lstm"}], jobs=1, progress=False, backend="numpy")
from gradflow.engine._fused import _malloc
changed = {k: (before.get(k), os.environ.get(k)) for k in set(before) | set(os.environ)
           if before.get(k) != os.environ.get(k)}
print(json.dumps({"env_changed": changed, "mallopt_called": _malloc._done is not None,
                  "numba_imported": "numba" in sys.modules}))
"""


def _python(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(Path.home()),
           "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=600, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_using_gradflow_changes_no_environment_variable_nor_the_allocator():
    result = json.loads(_python(_WORKLOAD))
    assert result["numba_imported"]            # the fused path did run
    assert result["env_changed"] == {}
    assert not result["mallopt_called"]        # glibc's malloc settings are the user's


def test_the_engine_changes_no_numba_setting():
    """numba's settings after ``import gradflow.engine`` and fused calls are the ones
    numba has on its own (no CPU name chosen for the user's other numba code)."""
    own = json.loads(_python(_DUMP_NUMBA_CONFIG))
    after = json.loads(_python(textwrap.dedent("""
        import numpy as np, gradflow, gradflow.engine
        with gradflow.engine.use_backend("numba", flush_subnormals=True):
            net = gradflow.Network("lstm", input_size=2, hidden_size=3)
            p = net.init(seed=0)
            net.backward(p, net.forward(p, np.ones((3, 2, 2))))
        """) + _DUMP_NUMBA_CONFIG))
    assert after["CPU_NAME"] == own["CPU_NAME"] == "None"
    assert after == own


def test_importing_the_engine_imports_no_numba():
    """numba (and its settings) load at the first fused call, not at import."""
    out = _python("import sys, gradflow.engine; print('numba' in sys.modules)")
    assert out == "False"


def _backend_of_the_run(config):
    import gradflow.engine

    return [{"ran_on": gradflow.engine.current_backend().key}]


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_sweep_passes_its_backend_to_every_run_and_keys_on_it(tmp_path, jobs):
    from gradflow.sweep import run_grid

    configs = [{"seed": 0}, {"seed": 1}]
    for key in ("numpy", "numba+ftz"):
        frame = run_grid(_backend_of_the_run, configs, cache=tmp_path, jobs=jobs,
                         progress=False, backend=key)
        assert list(frame.ran_on) == [key, key]
    assert len(list(tmp_path.glob("*.json"))) == 4   # one entry per config and backend
