"""A report is built in a staging folder and swapped in only when it is whole.

``gradflow report --out DIR`` never writes into ``DIR`` while it works: it
builds the whole report in ``.DIR.staging-PID`` beside it (same filesystem,
so each move is an atomic rename), and only when every analysis has run and
rendered does :func:`swap_in` move the generated files into ``DIR``, with
SIGINT and SIGTERM held back for those few milliseconds. Any failure,
interrupt or signal before that leaves ``DIR`` exactly as it was.

What is "generated" is what a report lists in its ``manifest.json``: files
that gradflow did not write are never touched, and a file of the previous
report that the new one no longer has is removed only if it is still
byte-identical to what gradflow wrote (an edited one is kept, with a note).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from gradflow._validate import UsageError

__all__ = ["MANIFEST", "remove_stale_staging", "staging_folder", "swap_in"]

MANIFEST = "manifest.json"
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generated_files(out: Path) -> dict[str, str]:
    """``relative path -> sha256`` of the report in ``out``, from its manifest ({} if none)."""
    try:
        outputs = json.loads((Path(out) / MANIFEST).read_text(encoding="utf-8"))["outputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return outputs if isinstance(outputs, dict) else {}


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
    (``manifest.json`` last); files of the previous report (per its manifest)
    that the new one lacks are removed if unedited. Nothing else in ``out`` is
    touched. ``staging`` is removed.
    """
    staging, out = Path(staging), Path(out)
    new = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    new.sort(key=lambda rel: rel == MANIFEST)   # the manifest last: it describes the rest
    old = generated_files(out)
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
            if _sha256(path) == digest:
                path.unlink()
                _remove_empty_parents(path.parent, out)
            else:
                kept.append(rel)
    shutil.rmtree(staging, ignore_errors=True)
    if kept and note is not None:
        note(f"kept {len(kept)} file(s) of the previous report that were edited after it "
             f"was generated: {', '.join(kept[:5])}{' ...' if len(kept) > 5 else ''}")
    return [out / rel for rel in new]


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
