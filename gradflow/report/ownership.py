"""What a report run may replace, delete or write: decided before anything is computed.

A report folder belongs to the run that wrote it, and its ``manifest.json``
says which run that was (the analyses folder, full or quick) and which files
it wrote (with their sha256). From that record:

- :func:`check_out` (before computing): a run replaces a folder's report only
  when that report came from the same analyses folder and the same mode;
  a folder that holds files but no gradflow report is never written into.
  Otherwise the run stops with a :class:`~gradflow.UsageError` saying what the
  folder holds and how to write elsewhere (``--out``) or replace it on
  purpose (``--replace``).
- :func:`check_cache` (before computing): the cache folder can be created
  and written.
- :func:`previous_outputs` (at the swap): the files the previous report may
  give up, only paths that resolve inside the folder; every other manifest
  entry is left alone, with a note.
- :func:`conflicts` (at the swap): files the new report would overwrite that
  gradflow did not write as they are now (edited by hand, or a user's own).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gradflow._validate import UsageError

__all__ = ["MANIFEST", "PreviousReport", "check_cache", "check_out", "conflicts",
           "previous_outputs", "read_previous"]

MANIFEST = "manifest.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class PreviousReport:
    """The report a folder holds, as its manifest records it.

    Attributes
    ----------
    quick : whether it is a ``--quick`` preview
    source : its analyses folder (resolved), or None when the manifest predates the record
    names : the names of its analyses
    outputs : ``relative path -> sha256`` of its files, as listed (unchecked)
    blas : the BLAS libraries and kernels it was computed with ([] when not recorded)
    """

    quick: bool
    source: Path | None
    names: frozenset[str]
    outputs: dict[str, Any]
    blas: list[Any]

    def describe(self) -> str:
        mode = "a --quick preview" if self.quick else "the full report"
        src = f"{self.source}/" if self.source is not None else "analyses " + ", ".join(
            sorted(self.names)[:4]) + (" ..." if len(self.names) > 4 else "")
        return f"{mode} of {src}"


def read_previous(out: Path) -> PreviousReport | None:
    """The report recorded in ``out/manifest.json``; None if there is none or it is not
    a gradflow report's manifest."""
    try:
        manifest = json.loads((Path(out) / MANIFEST).read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("generated_by") != "gradflow report":
        return None
    source = manifest.get("analyses_folder")
    analyses = manifest.get("analyses")
    outputs = manifest.get("outputs")
    blas = manifest.get("blas")
    return PreviousReport(
        quick=manifest.get("quick") is True,
        source=(Path(out) / source).resolve() if isinstance(source, str) and source else None,
        names=frozenset(analyses) if isinstance(analyses, dict) else frozenset(),
        outputs=outputs if isinstance(outputs, dict) else {},
        blas=blas if isinstance(blas, list) else [])


def source_record(analyses: Path, out: Path) -> str:
    """The analyses folder as the manifest records it: relative to ``out``, POSIX."""
    return Path(os.path.relpath(Path(analyses).resolve(), Path(out).resolve())).as_posix()


def _same_source(previous: PreviousReport, analyses: Path, names: Iterable[str]) -> bool:
    if previous.source is not None:
        return previous.source == Path(analyses).resolve()
    # A manifest written before the analyses folder was recorded: the same folder if
    # the two share an analysis (a user's own folder shares none with analyses/).
    return bool(previous.names & set(names))


def _user_files(out: Path) -> list[Path]:
    """Files in ``out`` (hidden ones such as ``.gitkeep`` aside: a report writes none)."""
    return [p for p in sorted(out.rglob("*")) if (p.is_file() or p.is_symlink())
            and not any(part.startswith(".") for part in p.relative_to(out).parts)]


def check_out(out: Path, *, analyses: Path, names: Iterable[str], quick: bool,
              replace: bool) -> PreviousReport | None:
    """Stop (UsageError) unless a run of ``analyses`` (``quick`` or not) may write ``out``.

    Returns the report ``out`` holds (None for a new or empty folder).
    """
    out = Path(out)
    if str(out).strip() == "":
        raise UsageError("--out is empty (an unset shell variable?); give the folder to "
                         "write the report into")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out must be a folder; {str(out)!r} is a file")
    if not out.exists():
        return None
    previous = read_previous(out)
    names = list(names)
    mode = "a --quick preview" if quick else "the full report"
    if previous is None:
        files = _user_files(out)
        if files:
            raise UsageError(
                f"--out {str(out)!r} holds {len(files)} file(s) but no gradflow report (no "
                f"manifest.json of one): a report is written into a new or empty folder, or "
                f"over a report of the same analyses; choose another --out")
        return None
    if replace or (previous.quick == quick and _same_source(previous, analyses, names)):
        return previous
    raise UsageError(
        f"--out {str(out)!r} holds {previous.describe()}, and this run is {mode} of "
        f"{Path(analyses)}/: write it elsewhere with --out DIR, or replace that report on "
        f"purpose with --replace")


def check_cache(cache: Path | None) -> None:
    """Stop (UsageError) unless ``cache`` is a folder this process can create and write."""
    if cache is None:
        return
    cache = Path(cache)
    if str(cache).strip() == "":
        raise UsageError("--cache is empty (an unset shell variable?); give a folder, or "
                         "--no-cache")
    if cache.exists() and not cache.is_dir():
        raise UsageError(f"--cache must be a folder; {str(cache)!r} is a file (or pass "
                         f"--no-cache)")
    probe = cache / f".write-check-{os.getpid()}"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--cache folder {str(cache)!r} cannot be written "
                         f"({exc.strerror or exc}); choose another --cache, or --no-cache") \
            from None


def _inside(out: Path, rel: Any) -> Path | None:
    """``out / rel`` if ``rel`` is a relative POSIX path that stays inside ``out`` (symlinks
    resolved), else None."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel:
        return None
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or pure.as_posix() != rel:
        return None
    path = Path(out) / rel
    root = Path(out).resolve()
    try:
        parent = path.parent.resolve()
    except OSError:
        return None
    return path if parent == root or root in parent.parents else None


def previous_outputs(out: Path, previous: PreviousReport | None,
                     note: Callable[[str], None] | None = None) -> dict[str, str]:
    """The previous report's files that a new one may replace or delete: ``rel -> sha256``
    for entries inside ``out`` with a well-formed hash. Others are left alone (noted)."""
    if previous is None:
        return {}
    usable, refused = {}, []
    for rel, digest in previous.outputs.items():
        if _inside(out, rel) is not None and isinstance(digest, str) and _SHA256.match(digest):
            usable[rel] = digest
        else:
            refused.append(str(rel))
    if refused and note is not None:
        note(f"left alone {len(refused)} entr{'y' if len(refused) == 1 else 'ies'} of the "
             f"previous manifest that name(s) no file inside {out}/ (or no valid sha256): "
             f"{', '.join(repr(r) for r in refused[:3])}{' ...' if len(refused) > 3 else ''}")
    return usable


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def conflicts(staging: Path, out: Path, new: Iterable[str], old: dict[str, str]) -> list[str]:
    """Files of ``new`` that would overwrite something gradflow did not write as it is now:
    a file of the previous report edited since, a user's own file, a symlink, a folder,
    or a path leading outside ``out``."""
    found = []
    ours = read_previous(out) is not None   # then its manifest.json is gradflow's own
    for rel in new:
        target = Path(out) / rel
        if rel == MANIFEST and ours and target.is_file() and not target.is_symlink():
            continue
        if _inside(out, rel) is None:
            found.append(f"{rel} (outside {out}/ through a link)")
        elif target.is_symlink() or (target.exists() and not target.is_file()):
            found.append(f"{rel} (not a regular file)")
        elif target.exists():
            now = sha256(target)
            if now == old.get(rel) or now == sha256(Path(staging) / rel):
                continue
            found.append(f"{rel} ({'edited by hand' if rel in old else 'not written by gradflow'})")
    return found
