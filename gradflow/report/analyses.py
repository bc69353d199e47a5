"""Discovery of analysis files, and the picklable call that runs one config.

An analysis is a Python file in ``analyses/`` (or ``--analyses DIR``)::

    TITLE = "Vanishing gradients in the vanilla RNN"
    QUESTION = "Why does a vanilla RNN forget? (in the lecture's terms)"
    ORDER = 10                      # optional: position in the report

    @dataclass(frozen=True)
    class Config:                   # optional, and recommended: typed configurations
        cell: str
        gain: float
        seed: int

    GRID = {"cell": ["rnn"], "gain": [0.5, 1.0], "seed": [0, 1, 2]}   # expands to Configs
    QUICK_GRID = {...}              # optional: a small grid for `--quick` and tests
    REPLICATE = True                # optional: check every verdict on a round-off replicate

    def follow(frame: pandas.DataFrame, quick: bool) -> GRID-like: ...   # optional: stages

    def run(config: Config) -> list[dict]: ...        # pure; seeded by the config
    def render(frame: pandas.DataFrame, out: Section) -> None: ...

With a ``Config`` dataclass, every configuration of the grid is checked
against it at discovery (a missing or unknown field names the file), and
``run`` receives a ``Config``; the cache keys and the frame's columns are its
fields, as they would be for the plain dicts ``run`` receives without one.

With ``REPLICATE = True`` (and a pure ``summarize(frame) -> Summary``), the grid
runs a second time on the engine's NumPy reference backend, which differs from the
fused kernels only in round-off; a claim whose verdict the replicate does not repeat
is reported as inconclusive, "fragile under round-off" (:class:`~gradflow.report.output.Section`).

With ``follow``, the grid is the first stage of a protocol: after each stage,
``follow`` receives every row so far (and whether the run is ``--quick``) and
returns the next stage's grid (a grid, a list of grids, or ``[]`` when the
design is complete), so a choice the protocol makes on some runs (a learning
rate picked on tuning seeds) is made by the code on the rows the report itself
computed, never copied into the source by hand. Each stage's runs are cached
like any other; the replicate follows its own rows.

Files whose name starts with ``_`` are helpers, not analyses. gradflow never
imports ``analyses/`` as a package: a user's own analysis file runs exactly as
the shipped ones do.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from gradflow._validate import UsageError
from gradflow.sweep import expand_grid

__all__ = ["Analysis", "AnalysisError", "discover", "load_module"]

_REQUIRED = ("TITLE", "QUESTION", "GRID", "run", "render")


def load_module(path: Path) -> ModuleType:
    """Import an analysis file by path (once per process) under a private name."""
    path = Path(path).resolve()
    name = "gradflow_analysis_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    if str(path.parent) not in sys.path:  # so an analysis can import its folder's _helpers
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"analysis file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class AnalysisError(Exception):
    """An analysis's own code failed (a bug to fix there, not a usage mistake).

    Attributes
    ----------
    analysis : the analysis file (``Path``)
    function : ``"import"``, ``"run"``, ``"follow"`` or ``"render"``
    config : the configuration of the failed run (``run`` only), else None
    cause : the original exception, with its traceback
    """

    def __init__(self, analysis: Path, function: str, cause: BaseException,
                 config: dict | None = None) -> None:
        self.analysis, self.function, self.cause, self.config = analysis, function, cause, config
        where = f"{function}(config={json.dumps(config)})" if config is not None else \
            f"{function}(...)" if function != "import" else "import"
        super().__init__(f"analysis {analysis.name} failed in {where}: "
                         f"{type(cause).__name__}: {cause}")


@dataclass(frozen=True)
class Analysis:
    """One discovered analysis file."""

    name: str
    path: Path
    title: str
    question: str
    order: int
    replicate: bool = False

    @property
    def module(self) -> ModuleType:
        return load_module(self.path)

    def configs(self, quick: bool = False) -> list[dict[str, Any]]:
        """The grid's configurations (``QUICK_GRID`` when ``quick`` and it exists), as
        dicts of the ``Config`` fields (checked against it when the file defines one)."""
        grid = getattr(self.module, "QUICK_GRID", None) if quick else None
        configs = expand_grid(grid if grid is not None else self.module.GRID)
        config_class = getattr(self.module, "Config", None)
        if config_class is not None:   # one check per distinct set of keys (a list of grids)
            for config in {tuple(c): c for c in configs}.values():
                make_config(config_class, config, self.path)
        return configs

    @property
    def staged(self) -> bool:
        """Whether the grid is only the first stage (the file defines ``follow``)."""
        return callable(getattr(self.module, "follow", None))

    def follow(self, frame: Any, quick: bool = False) -> list[dict[str, Any]]:
        """The configurations of the protocol's next stage after the rows ``frame`` (the
        file's ``follow(frame, quick)``; ``[]`` when it defines none or the design is
        complete), checked against ``Config`` like the grid's."""
        follow = getattr(self.module, "follow", None)
        if follow is None:
            return []
        grid = follow(frame, quick)
        configs = expand_grid(grid) if grid else []
        config_class = getattr(self.module, "Config", None)
        if config_class is not None:
            for config in {tuple(c): c for c in configs}.values():
                make_config(config_class, config, self.path)
        return configs

    def source_hash(self) -> str:
        """sha256 of the file and of the folder's ``_*.py`` helpers it imports (directly
        or through another helper): part of every cached run's key, so editing a helper
        it uses recomputes it, and editing one it does not use leaves its cache valid."""
        digest = hashlib.sha256(self.path.read_bytes())
        for helper in imported_helpers(self.path):
            digest.update(helper.name.encode())
            digest.update(helper.read_bytes())
        return digest.hexdigest()


def imported_helpers(path: Path) -> list[Path]:
    """The ``_*.py`` files beside ``path`` that it imports by name (``import _x``, ``from _x
    import ...``), followed through the helpers themselves; sorted. A file that does not
    parse counts as importing every helper (it will fail to load anyway)."""
    folder = path.parent
    found: set[Path] = set()
    todo = [path]
    while todo:
        try:
            tree = ast.parse(todo.pop().read_bytes())
        except SyntaxError:
            return sorted(folder.glob("_*.py"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                helper = folder / f"{name.split('.')[0]}.py"
                if helper.name.startswith("_") and helper.is_file() and helper not in found:
                    found.add(helper)
                    todo.append(helper)
    return sorted(found)


def make_config(config_class: Any, config: dict[str, Any], path: Path) -> Any:
    """``config_class(**config)``, or a UsageError naming the file and the fields."""
    if not dataclasses.is_dataclass(config_class) or not isinstance(config_class, type):
        raise UsageError(f"analysis file {path}: Config must be a dataclass; got "
                         f"{config_class!r}")
    fields = {f.name for f in dataclasses.fields(config_class)}
    required = {f.name for f in dataclasses.fields(config_class)
                if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING}
    unknown, missing = sorted(set(config) - fields), sorted(required - set(config))
    if unknown or missing:
        raise UsageError(f"analysis file {path}: its grid does not match Config "
                         f"(unknown: {', '.join(unknown) or 'none'}; missing: "
                         f"{', '.join(missing) or 'none'})")
    return config_class(**config)


class RunConfig:
    """``run(config)`` of an analysis file, picklable by path for worker processes; the
    config becomes the file's ``Config`` when it defines one."""

    def __init__(self, path: Path) -> None:
        self.path = str(Path(path).resolve())

    def __call__(self, config: dict[str, Any]) -> list[dict[str, Any]]:
        module = load_module(Path(self.path))
        config_class = getattr(module, "Config", None)
        if config_class is not None:
            return module.run(make_config(config_class, config, Path(self.path)))
        return module.run(config)


def discover(folder: str | Path) -> list[Analysis]:
    """Every analysis file in ``folder``, in report order (``ORDER``, then name).

    Raises ValueError (a usage mistake) when the folder does not exist, holds no
    analysis file, or a file lacks what an analysis defines (naming it), and
    :class:`AnalysisError` when a file does not import (a bug in it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--analyses folder {str(folder)!r} does not exist; pass "
                         f"--analyses DIR, a folder of analysis files")
    paths = [p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")]
    if not paths:
        raise UsageError(f"--analyses folder {str(folder)!r} holds no analysis file "
                         f"(*.py not starting with '_')")
    found = []
    for path in paths:
        try:
            module = load_module(path)
        except Exception as exc:
            raise AnalysisError(path, "import", exc) from exc
        missing = [attr for attr in _REQUIRED if not hasattr(module, attr)]
        if missing:
            raise UsageError(f"analysis file {path} lacks {', '.join(missing)}: an analysis "
                             f"defines TITLE, QUESTION, GRID, run(config) and render(frame, out)")
        replicate = getattr(module, "REPLICATE", False)
        if not isinstance(replicate, bool):
            raise UsageError(f"analysis file {path}: REPLICATE must be True or False; got "
                             f"{replicate!r}")
        if replicate and not callable(getattr(module, "summarize", None)):
            raise UsageError(f"analysis file {path}: REPLICATE = True needs a pure "
                             f"summarize(frame) -> Summary, whose claims the replicate checks")
        found.append(Analysis(path.stem, path.resolve(), str(module.TITLE),
                              str(module.QUESTION), int(getattr(module, "ORDER", 100)),
                              replicate))
    return sorted(found, key=lambda a: (a.order, a.name))
