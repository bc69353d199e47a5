"""Trained checkpoints in: a PyTorch ``state_dict`` or an ``.npz`` -> (Network, params).

gradflow's parameters are PyTorch's state-dict names and shapes, so a trained
``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` loads as it is. :func:`load_state_dict`
reads a file saved with ``torch.save(module.state_dict(), path)`` (torch is
needed only for that format) or ``np.savez(path, **arrays)``;
:func:`infer_network` reads the architecture off the names and shapes:

- the cell from the gate count: ``weight_hh_l0`` is ``(G H, H)`` with G = 1
  (RNN), 4 (LSTM) or 3 (GRU);
- ``input_size``, ``hidden_size``, ``num_layers`` (``..._l{k}``) and
  ``bidirectional`` (``..._reverse``);
- what names cannot say is asked for: the RNN's nonlinearity (refused when
  not given: a ReLU ``nn.RNN`` must not be analysed as tanh) and the GRU form
  (PyTorch's is ``reset_after=True``).

A checkpoint saved as a dict around the state dict (``{'model_state_dict':
..., 'optimizer': ...}``) is opened at ``key`` or at the one common key found
(:data:`NESTED_KEYS`); bfloat16 and float16 tensors are read as float32; the
names of ``nn.LSTMCell`` / ``nn.GRUCell`` / ``nn.RNNCell`` (``weight_ih``, no
layer suffix) are read as a one-layer module. An LSTM with ``proj_size`` is
refused: the engine has no projection.

A recurrent module inside a larger model (``encoder.rnn.weight_ih_l0``) is
found by its prefix; the names under it must be exactly the module's
(leftover or missing names are refused, listed), and the other modules'
names are returned so a report can say they were not analysed.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from gradflow._validate import UsageError, describe
from gradflow.conventions import CellKind, DType
from gradflow.engine import Network

__all__ = ["NESTED_KEYS", "Checkpoint", "infer_network", "load_state_dict"]

#: Keys under which training scripts commonly save the state dict, tried in this order.
NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net", "module",
               "model_state", "network")

_RECURRENT = re.compile(r"^(?P<prefix>.*?)(?P<name>(weight|bias)_(ih|hh)_l(?P<layer>\d+)"
                        r"(?P<reverse>_reverse)?)$")
_GATES: dict[int, CellKind] = {1: "rnn", 4: "lstm", 3: "gru"}
_CELL_NAME = re.compile(r"^(?P<prefix>.*?)(?P<name>(weight|bias)_(ih|hh))$")


class Checkpoint:
    """A loaded checkpoint: the network, its parameters, and what was left aside.

    Attributes
    ----------
    network : Network, inferred from the names and shapes
    params : dict of arrays under gradflow's (PyTorch's) names
    prefix : the recurrent module's prefix in the file ("" for a bare module)
    other : names in the file outside the recurrent module (not analysed)
    """

    def __init__(self, network: Network, params: dict[str, np.ndarray], prefix: str,
                 other: list[str]) -> None:
        self.network, self.params, self.prefix, self.other = network, params, prefix, other


def load_state_dict(path: str | Path, key: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of a checkpoint file, by name.

    Parameters
    ----------
    path : an ``.npz`` of arrays, or a file written by ``torch.save(state_dict)`` (or
        ``torch.save({..., key: state_dict})``)
    key : where the state dict sits in a saved dict; None: the file itself if it is a
        state dict, else the one key of :data:`NESTED_KEYS` it holds

    Raises
    ------
    UsageError : the file does not exist or is neither format (the message says which
        formats are read and, for a torch file without torch installed, how to install it)
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"MODEL {str(path)!r} is not a file")
    if path.suffix == ".npz":
        if key is not None:
            raise UsageError(f"--key applies to a torch.save-d dict; MODEL {str(path)!r} is "
                             f"an .npz of arrays")
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: np.asarray(data[name]) for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise UsageError(f"MODEL {str(path)!r} is not a readable .npz of arrays "
                             f"({exc})") from None
    if not zipfile.is_zipfile(path):   # torch.save writes a zip archive since torch 1.6
        raise UsageError(f"MODEL {str(path)!r} is neither an .npz of arrays nor a PyTorch "
                         f"state_dict saved with torch.save")
    try:
        import torch
    except ImportError:
        raise UsageError(f"MODEL {str(path)!r} looks like a PyTorch file, and reading it needs "
                         f"torch: pip install 'gradflow[torch]' (or save the arrays with "
                         f"np.savez)") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a foreign or unsafe file
        raise UsageError(f"MODEL {str(path)!r} could not be read by torch.load as a "
                         f"state_dict ({type(exc).__name__}); save module.state_dict(), "
                         f"not the module") from None
    state = _unnest(state, path, key)
    from gradflow._analyze.data import tensor_to_numpy

    return {name: tensor_to_numpy(value) for name, value in state.items()}


def _is_state_dict(value: object) -> bool:
    return isinstance(value, dict) and bool(value) and \
        all(hasattr(v, "detach") for v in value.values())


def _unnest(state: object, path: Path, key: str | None) -> dict:
    """The state dict in what ``torch.load`` returned: itself, or under ``key`` or a
    common key."""
    where = f"MODEL {str(path)!r}"
    if key is not None:
        if not isinstance(state, dict) or key not in state:
            keys = ", ".join(repr(k) for k in state) if isinstance(state, dict) else "none"
            raise UsageError(f"--key {key!r} is not in {where}; its keys are {keys}")
        state = state[key]
        where += f" at --key {key!r}"
    elif isinstance(state, dict) and not _is_state_dict(state):
        found = [k for k in NESTED_KEYS if _is_state_dict(state.get(k))]
        if not found:
            keys = ", ".join(repr(k) for k in list(state)[:8])
            raise UsageError(f"{where} holds a dict whose keys ({keys}) are not tensors and "
                             f"include none of {', '.join(NESTED_KEYS)}; name the state "
                             f"dict's key with --key")
        state = state[found[0]]
    if not _is_state_dict(state):
        raise UsageError(f"{where} holds {describe(state)}, not a state_dict of tensors; "
                         f"save module.state_dict()")
    return dict(state)  # type: ignore[call-overload]


def infer_network(state: dict[str, np.ndarray], *, prefix: str | None = None,
                  nonlinearity: str | None = None, reset_after: bool = True,
                  dtype: DType = "float64") -> Checkpoint:
    """The Network a state dict belongs to, and its parameters.

    Parameters
    ----------
    state : arrays by name (PyTorch names, possibly under a module prefix)
    prefix : the recurrent module's prefix (``"encoder.rnn."``); default: the only
        prefix under which recurrent weights are found
    nonlinearity : RNN only, and required for it: ``tanh``, ``relu``, ``sigmoid`` or
        ``linear`` (a state dict cannot say which)
    reset_after : GRU only: PyTorch's form (True, default) or Cho's (False)
    dtype : of the returned network and parameters

    Raises
    ------
    UsageError : no recurrent weights, several candidate modules, a gate count
        of no known cell, names missing or left over (listed), shapes that do
        not fit, or options that do not apply to the cell
    """
    state = _layer_names(state)
    prefix, names = _module_names(state, prefix)
    module = {name[len(prefix):]: np.asarray(state[name]) for name in names}
    projections = sorted(n for n in state if n.startswith(prefix + "weight_hr_l"))
    if projections:
        raise UsageError(f"the LSTM has proj_size > 0 ({', '.join(projections)}): "
                         f"gradflow's engine has no projected LSTM, so it cannot analyse it")
    leftover_in_module = [name for name in state if name.startswith(prefix)
                          and name not in names]
    w_hh = module.get("weight_hh_l0")
    w_ih = module.get("weight_ih_l0")
    if w_hh is None or w_ih is None or w_hh.ndim != 2 or w_ih.ndim != 2:
        raise UsageError(f"the recurrent module {prefix or '(top level)'!r} lacks 2-d "
                         f"weight_ih_l0 and weight_hh_l0")
    hidden = int(w_hh.shape[1])
    gates, rest = divmod(int(w_hh.shape[0]), hidden)
    if rest or gates not in _GATES:
        raise UsageError(f"weight_hh_l0 has shape {w_hh.shape}: {w_hh.shape[0]} rows for "
                         f"hidden size {hidden} is no known cell (RNN: H rows, GRU: 3H, "
                         f"LSTM: 4H; LSTMs with proj_size are not supported)")
    cell: CellKind = _GATES[gates]
    if cell != "rnn" and nonlinearity not in (None, "tanh"):
        raise UsageError(f"--nonlinearity applies to an RNN; this model is a {cell.upper()}")
    if cell != "gru" and not reset_after:
        raise UsageError(f"--reset-before applies to a GRU; this model is a {cell.upper()}")
    layers = 1 + max(int(m["layer"]) for n in module if (m := _RECURRENT.match(n)))
    bidirectional = any(n.endswith("_reverse") for n in module)
    if not any(n.startswith("bias_") for n in module):
        raise UsageError("the model has no recurrent biases (bias=False): gradflow's cells "
                         "always have biases; save zeros as bias_ih_l*/bias_hh_l* to analyse it")
    if cell == "rnn" and nonlinearity is None:
        raise UsageError("an RNN's nonlinearity is not in its state_dict: give "
                         "--nonlinearity tanh or --nonlinearity relu (nn.RNN's default is tanh)")
    options = {"nonlinearity": nonlinearity} if cell == "rnn" else \
        {"reset_after": bool(reset_after)} if cell == "gru" else {}
    net = Network(cell, input_size=int(w_ih.shape[1]), hidden_size=hidden, num_layers=layers,
                  bidirectional=bidirectional, dtype=dtype, **options)
    expected = net.param_shapes()
    missing = [n for n in expected if n not in module]
    leftover = sorted(set(module) - set(expected)) + leftover_in_module
    if missing or leftover:
        raise UsageError(f"the {cell.upper()} inferred from weight_hh_l0 ({layers} layer(s), "
                         f"{'bi' if bidirectional else 'uni'}directional) does not match the "
                         f"names: missing {', '.join(missing) or 'none'}; left over "
                         f"{', '.join(leftover) or 'none'}")
    wrong = [f"{n} {module[n].shape} (expected {shape})" for n, shape in expected.items()
             if module[n].shape != shape]
    if wrong:
        raise UsageError(f"shapes do not fit a {cell.upper()} with input size "
                         f"{net.input_size} and hidden size {hidden}: {'; '.join(wrong)}")
    params = net.check_params(module)
    other = sorted(n for n in state if not n.startswith(prefix)) if prefix else []
    return Checkpoint(net, params, prefix, other)


def _module_names(state: dict[str, np.ndarray], prefix: str | None) -> tuple[str, list[str]]:
    """The recurrent module's prefix (given, or the only one) and its names in ``state``."""
    found: dict[str, list[str]] = {}
    for name in state:
        match = _RECURRENT.match(name)
        if match:
            found.setdefault(match["prefix"], []).append(name)
    if not found:
        sample = ", ".join(sorted(state)[:6]) or "no arrays at all"
        raise UsageError(f"no recurrent weights (weight_ih_l0, weight_hh_l0, ...) in the "
                         f"model: it holds {sample}")
    if prefix is None:
        if len(found) > 1:
            raise UsageError(f"the model holds several recurrent modules "
                             f"({', '.join(repr(p) for p in sorted(found))}); choose one "
                             f"with --prefix")
        (prefix,) = found
    elif prefix not in found:
        raise UsageError(f"no recurrent weights under prefix {prefix!r}; the model has them "
                         f"under {', '.join(repr(p) for p in sorted(found))}")
    return prefix, found[prefix]


def _layer_names(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``state`` with an ``nn.*Cell``'s names (``weight_ih``, no layer) as layer 0's, under
    prefixes that have no layered names of their own."""
    layered = {m["prefix"] for n in state if (m := _RECURRENT.match(n))}
    renamed = {}
    for name, value in state.items():
        match = _CELL_NAME.match(name)
        if match and match["prefix"] not in layered:
            name = f"{match['prefix']}{match['name']}_l0"
        renamed[name] = value
    return renamed
