"""What a user hands to ``gradflow analyze``: data files and the output folder.

:func:`load_array` reads one array from ``.npy`` (memory-mapped, so a large
file is streamed batch by batch), ``.npz`` (its only array, or the one named
by ``key``) or a tensor saved with ``torch.save`` (``.pt``; torch is imported
only for that). :func:`check_out` refuses an output folder that cannot be
made before any work is done. Every refusal is a :class:`gradflow.UsageError`
naming the option, what arrived and what is allowed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from gradflow._validate import UsageError, describe

__all__ = ["check_out", "load_array", "tensor_to_numpy"]

#: The suffixes :func:`load_array` reads.
SUFFIXES = (".npy", ".npz", ".pt", ".pth")


def tensor_to_numpy(value: Any) -> np.ndarray:
    """A torch tensor as a NumPy array; bfloat16 (which NumPy lacks) becomes float32."""
    import torch

    value = value.detach().cpu()
    if value.dtype == torch.bfloat16:
        value = value.float()
    return value.numpy()


def load_array(path: Path | str, option: str, key: str | None = None) -> np.ndarray:
    """The array of ``path`` for the command-line option ``option``.

    Parameters
    ----------
    path : ``.npy``, ``.npz`` or ``.pt`` / ``.pth`` (a tensor, or a dict of tensors)
    option : the option's name, for messages (``"--inputs"``)
    key : the array's name in an ``.npz`` or a saved dict; None: its only array

    Returns
    -------
    ndarray (memory-mapped for ``.npy``)
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{option} {str(path)!r} is not a file")
    if path.suffix not in SUFFIXES:
        raise UsageError(f"{option} {str(path)!r} must be one of {', '.join(SUFFIXES)} "
                         f"(a saved array); got suffix {path.suffix!r}")
    if path.suffix == ".npy":
        if key is not None:
            raise UsageError(f"--data-key applies to an .npz or .pt file; {option} "
                             f"{str(path)!r} is an .npy of one array")
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{option} {str(path)!r} is not a readable .npy array "
                             f"({exc})") from None
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                return _pick(dict(data.items()), path, option, key)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise UsageError(f"{option} {str(path)!r} is not a readable .npz of arrays "
                             f"({exc})") from None
    return _load_torch(path, option, key)


def _load_torch(path: Path, option: str, key: str | None) -> np.ndarray:
    try:
        import torch
    except ImportError:
        raise UsageError(f"{option} {str(path)!r} is a PyTorch file, and reading it needs "
                         f"torch: pip install 'gradflow[torch]' (or save it with "
                         f"np.save)") from None
    try:
        value = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a foreign or unsafe file
        raise UsageError(f"{option} {str(path)!r} could not be read by torch.load "
                         f"({type(exc).__name__}); save a tensor with torch.save") from None
    if isinstance(value, dict):
        arrays = {k: v for k, v in value.items() if isinstance(v, torch.Tensor)}
        return _pick({k: tensor_to_numpy(v) for k, v in arrays.items()}, path, option, key)
    if not isinstance(value, torch.Tensor):
        raise UsageError(f"{option} {str(path)!r} holds {describe(value)}, not a tensor; "
                         f"save a tensor with torch.save")
    if key is not None:
        raise UsageError(f"--data-key applies to a file of several arrays; {option} "
                         f"{str(path)!r} holds one tensor")
    return tensor_to_numpy(value)


def _pick(arrays: dict[str, np.ndarray], path: Path, option: str,
          key: str | None) -> np.ndarray:
    """The array named ``key``, or the only one."""
    names = ", ".join(repr(k) for k in sorted(arrays)) or "none"
    if key is not None:
        if key not in arrays:
            raise UsageError(f"--data-key {key!r} is not in {option} {str(path)!r}; its "
                             f"arrays are {names}")
        return np.asarray(arrays[key])
    if len(arrays) != 1:
        raise UsageError(f"{option} {str(path)!r} holds {len(arrays)} arrays ({names}); "
                         f"choose one with --data-key")
    return np.asarray(next(iter(arrays.values())))


def check_out(out: Path | str) -> Path:
    """``out`` if it is, or can become, a folder; else a UsageError saying why."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out must be a folder; {str(out)!r} is a file")
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--out {str(out)!r} cannot be made: {str(parent)!r} is a "
                                 f"file, not a folder")
            break
    return out
