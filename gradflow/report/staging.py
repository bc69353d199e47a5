"""A report is built in a staging folder and swapped in only when it is whole.

``gradflow report --out DIR`` never writes into ``DIR`` while it works: it
builds the whole report in ``.DIR.staging-PID`` beside it (same filesystem,
so each move is an atomic rename), and only when every analysis has run and
rendered does :func:`swap_in` move the generated files into ``DIR``, with
SIGINT and SIGTERM held back for those few milliseconds. Any failure,
interrupt or signal before that leaves ``DIR`` exactly as it was.

What is "generated" is what a report lists in its ``manifest.json``
(:mod:`gradflow.report.ownership`): files that gradflow did not write are
never touched; a file of the previous report that the new one no longer has
is removed only if its path lies inside ``DIR`` and it is still byte-identical
to what gradflow wrote (an edited one is kept, with a note); and if the new
report would overwrite a file edited by hand or a user's own, nothing is
swapped in: the run stops and names the files.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from gradflow._validate import UsageError
from gradflow.report.ownership import (
    MANIFEST,
    conflicts,
    previous_outputs,
    read_previous,
    sha256,
)

__all__ = ["MANIFEST", "remove_stale_staging", "staging_folder", "swap_in"]

_STAGING = re.compile(r"^\.(?P<name>.+)\.staging-(?P<pid>\d+)$")


def staging_folder(out: Path) -> Path:
    """A fresh, empty staging folder beside ``out`` (created, with ``out``'s parent)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out must be a folder; {str(out)!r} is a file")
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove staging folders of ``out`` left by runs that were killed (SIGKILL): those
    whose process no longer exists. A running report's staging folder is left alone."""
    removed = []
    for path in Path(out).parent.glob(f".{Path(out).name}.staging-*"):
        match = _STAGING.match(path.name)
        if match is None or not path.is_dir():
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


def generated_files(out: Path, note: Callable[[str], None] | None = None) -> dict[str, str]:
    """``relative path -> sha256`` of the report in ``out``, from its manifest ({} if none):
    only entries that lie inside ``out``; others are left alone, with a note."""
    return previous_outputs(out, read_previous(out), note)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def swap_in(staging: Path, out: Path, note: Callable[[str], None] | None = None) -> list[Path]:
    """Move the whole report in ``staging`` into ``out``; return the files now in ``out``.

    Every file of the new report replaces its namesake by an atomic rename
    (``manifest.json`` last); files of the previous report (per its manifest,
    inside ``out`` only) that the new one lacks are removed if unedited. Nothing
    else in ``out`` is touched. If a file of the new report would overwrite one
    that gradflow did not write as it is now (edited by hand, a user's own),
    raises UsageError before moving anything. ``staging`` is removed.
    """
    staging, out = Path(staging), Path(out)
    new = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    new.sort(key=lambda rel: rel == MANIFEST)   # the manifest last: it describes the rest
    old = generated_files(out, note)
    clashes = conflicts(staging, out, new, old)
    if clashes:
        raise UsageError(
            f"the new report would overwrite {len(clashes)} file(s) in {out}/ that gradflow "
            f"did not write as they are now: {'; '.join(clashes[:4])}"
            f"{' ...' if len(clashes) > 4 else ''}; move them away (or write elsewhere with "
            f"--out) and rerun: finished runs are cached, so the rerun only renders")
    _note_stale_pdf(out, note)
    kept = []
    with _signals_held():
        out.mkdir(parents=True, exist_ok=True)
        for rel in new:
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, target)
        for rel, digest in sorted(old.items()):
            path = out / rel
            if rel in new or not path.is_file():
                continue
            if sha256(path) == digest:
                path.unlink()
                _remove_empty_parents(path.parent, out)
            else:
                kept.append(rel)
    shutil.rmtree(staging, ignore_errors=True)
    if kept and note is not None:
        note(f"kept {len(kept)} file(s) of the previous report that were edited after it "
             f"was generated: {', '.join(kept[:5])}{' ...' if len(kept) > 5 else ''}")
    return [out / rel for rel in new]


def _note_stale_pdf(out: Path, note: Callable[[str], None] | None) -> None:
    """``paper.pdf`` is compiled from ``paper.tex`` by ``make paper``, not by the report:
    a new report leaves it describing the previous one."""
    if note is not None and (Path(out) / "paper.pdf").is_file():
        note(f"{out}/paper.pdf was compiled from the previous report: 'make paper' "
             f"(or pdflatex paper.tex) rebuilds it")


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
