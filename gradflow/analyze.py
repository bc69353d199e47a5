"""``gradflow analyze MODEL --out DIR``: the diagnostics on a trained checkpoint.

For each layer and direction of the recurrent module in MODEL (see
:mod:`gradflow.checkpoint`), on the model's own data and loss where the
checkpoint allows:

- the data: ``--tokens`` (integer ids through the checkpoint's embedding),
  ``--inputs`` (float inputs), or a stated synthetic default (N(0, 1) noise,
  flagged as not the model's data), streamed in batches of ``--batch-size``
  sequences (:mod:`gradflow._analyze.feed`);
- the loss: the next-token cross-entropy through the checkpoint's decoder at
  the last step, or a random readout of the state when there is no decoder or
  no tokens;
- per sequence (:mod:`gradflow._analyze.measure`): the decay rate of
  ``||dL/ds_t||`` over a stationary window (after a warm-up from the zero
  initial state, and away from the loss), the top Lyapunov exponents
  (matrix-free, the QR frame's own order so ``lambda_1`` does not move with
  ``--exponents``), gate means and timescales, the loss;
- every statistic as its mean with a 95% interval across sequences, and a
  flag where the decay rate and ``-lambda_max`` disagree beyond them;
- the singular values and spectral radius of each gate's block of ``W_hh``.

DIR receives ``REPORT.md``, figures (PNG and PDF, data beside them as CSV),
``numbers.csv`` and ``sequences.csv``; it is built beside DIR and swapped in
only when done, as ``gradflow report`` does.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from gradflow._validate import UsageError
from gradflow.conventions import DType

__all__ = ["analyze", "register"]

#: The synthetic default when no --inputs or --tokens is given.
DEFAULT_STEPS, DEFAULT_BATCH = 200, 8
#: Lyapunov exponents by default (fewer when the state is smaller).
DEFAULT_EXPONENTS = 10


class Measured(NamedTuple):
    """One model's analysis, before it is written."""

    model: Path
    ckpt: Any
    feed: Any
    loss: str
    frames: dict
    warmup: int
    skip: int
    seconds: float
    precision: Any = None       # float32: the float64 check of lambda_1 (a DataFrame)


def _feed(ckpt: Any, state: dict, *, inputs: Any, tokens: Any, data_key: str | None,
          batch_first: bool, steps: int | None, batch: int | None, seed: int,
          embedding: str | None, decoder: str | None) -> tuple[Any, Any]:
    """The sequences to feed (a Feed) and the checkpoint's decoder (or None); the loss
    reads the decoder only with tokens, whose next ids are its targets."""
    from gradflow._analyze.data import load_array
    from gradflow._analyze.feed import inputs_feed, synthetic_feed, tokens_feed
    from gradflow._analyze.model import find_io
    from gradflow._validate import check_int

    net = ckpt.network
    if inputs is not None and tokens is not None:
        raise UsageError("give --inputs (float inputs) or --tokens (token ids), not both")
    given = [name for name, v in (("--steps", steps), ("--batch", batch)) if v is not None]
    if inputs is not None and given:
        raise UsageError(f"{' and '.join(given)} set the synthetic inputs' shape and would be "
                         f"ignored with --inputs, whose array has its own (T, B, I)")
    if tokens is not None and batch is not None:
        raise UsageError("--batch sets the synthetic inputs' size and would be ignored with "
                         "--tokens; use --batch-size for the sequences read at a time")
    if data_key is not None and inputs is None and tokens is None:
        raise UsageError("--data-key names an array of --inputs or --tokens; neither was given")
    if batch_first and tokens is None:
        raise UsageError("--batch-first applies to --tokens")
    if steps is not None:
        steps = check_int("steps", steps, minimum=2)
    found_embed, found_dec = find_io(state, ckpt.other, net.input_size, net.output_size,
                                     embedding=embedding, decoder=decoder, dtype=net.dtype)
    if tokens is not None:
        ids = load_array(tokens, "--tokens", data_key)
        return tokens_feed(ids, Path(tokens).name, found_embed, batch_first=batch_first,
                           steps=steps), found_dec
    if inputs is not None:
        x = load_array(inputs, "--inputs", data_key)
        return inputs_feed(x, Path(inputs).name, net.input_size, net.dtype), found_dec
    if found_embed is not None:
        warnings.warn(f"the model reads tokens through its embedding {found_embed[0]!r}, and "
                      f"it is fed N(0, 1) noise: its dynamics on noise are not those on its "
                      f"data; give its tokens with --tokens", UserWarning, stacklevel=3)
    batch = DEFAULT_BATCH if batch is None else check_int("batch", batch, minimum=1)
    return synthetic_feed(DEFAULT_STEPS if steps is None else steps, batch, net.input_size,
                          seed, net.dtype), found_dec


def _window(T: int, warmup: int | None, skip: int | None) -> tuple[int, int]:
    """The warm-up and the decay fit's skip, defaults T // 5 each, checked against T."""
    from gradflow._validate import check_int

    warmup = T // 5 if warmup is None else check_int("warmup", warmup, minimum=0)
    skip = T // 5 if skip is None else check_int("fit_skip", skip, minimum=0)
    if warmup > T - 2:
        raise UsageError(f"--warmup must leave at least 2 of the T = {T} steps; got {warmup}")
    if T - warmup - skip < 3:
        raise UsageError(f"the decay fit's window (distances {skip}..{T - 1 - warmup}: "
                         f"--fit-skip {skip} and --warmup {warmup} of T = {T} steps) must "
                         f"hold at least 3 steps; lower --fit-skip or --warmup")
    return warmup, skip


def measure(model: Path | str, *, inputs: Any = None, tokens: Any = None,
            data_key: str | None = None, batch_first: bool = False, key: str | None = None,
            prefix: str | None = None, nonlinearity: str | None = None,
            reset_after: bool = True, embedding: str | None = None,
            decoder: str | None = None, exponents: int | None = None,
            steps: int | None = None, batch: int | None = None, batch_size: int = 32,
            warmup: int | None = None, fit_skip: int | None = None,
            initial_state: Path | str | None = None, seed: int = 0,
            dtype: DType = "float64", progress: bool | None = None) -> Measured:
    """Measure one checkpoint (see :func:`analyze` for the parameters)."""
    import sys

    from tqdm import tqdm

    from gradflow._analyze.data import load_array
    from gradflow._analyze.feed import initial_state as initial_state_of
    from gradflow._analyze.measure import measure_batch
    from gradflow._analyze.summary import Accumulator
    from gradflow._validate import check_int
    from gradflow.checkpoint import infer_network, load_state_dict

    start = time.perf_counter()
    seed = check_int("seed", seed, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    state = load_state_dict(model, key=key)
    ckpt = infer_network(state, prefix=prefix, nonlinearity=nonlinearity,
                         reset_after=reset_after, dtype=dtype)
    net = ckpt.network
    S = net.state_size
    exponents = min(DEFAULT_EXPONENTS, S) if exponents is None else \
        check_int("exponents", exponents, minimum=1, maximum=S)
    feed, dec = _feed(ckpt, state, inputs=inputs, tokens=tokens, data_key=data_key,
                      batch_first=batch_first, steps=steps, batch=batch, seed=seed,
                      embedding=embedding, decoder=decoder)
    if initial_state is not None:
        feed.initial = initial_state_of(load_array(initial_state, "--initial-state"),
                                        Path(initial_state).name, net, feed.sequences)
        warmup = 0 if warmup is None else warmup
    warmup, skip = _window(feed.steps, warmup, fit_skip)
    acc = Accumulator()
    batches = feed.batches(batch_size)
    show = sys.stderr.isatty() if progress is None else progress
    if show:
        batches = tqdm(batches, total=-(-feed.sequences // batch_size), desc="sequences",
                       leave=False)
    for first, x, targets in batches:
        acc.add(*measure_batch(net, ckpt.params, x, targets=targets, decoder=dec,
                               exponents=exponents, warmup=warmup, skip=skip, seed=seed,
                               first=first, state=feed.start(first, x.shape[1])))
    precision = None if net.dtype != "float32" else _precision(net, ckpt.params, feed, warmup)
    loss = (f"the next-token cross-entropy through the model's own decoder `{dec.name}` "
            f"at the last step (the first, for a reverse direction)") if dec is not None \
        and feed.kind == "tokens" else \
        ("a random readout r . s of the top layer's last state (the first, for a reverse "
         "direction), r ~ N(0, I/H) per sequence"
         + (" (the model's decoder needs --tokens for its targets)" if dec is not None
            else " (the checkpoint has no decoder)"))
    return Measured(Path(model), ckpt, feed, loss, acc.frames(net, ckpt.params), warmup,
                    skip, time.perf_counter() - start, precision)


def _precision(net: Any, params: dict, feed: Any, warmup: int) -> Any:
    """The float64 check of float32's lambda_1 on the first sequences; warns if flagged."""
    from gradflow._analyze.precision import SEQUENCES, float64_check

    _, x, _ = next(feed.batches(SEQUENCES))
    check = float64_check(net, params, x, warmup)
    if check.flag.any():
        worst = check.loc[check.flag].iloc[0]
        warnings.warn(f"float32 exponents are not trustworthy here: on a short window the "
                      f"float32 run's outputs separate from float64's by up to "
                      f"{worst.output_separation:.2g} (relative), and lambda_1 of layer "
                      f"{worst.layer}, {worst.direction} is {worst.lambda_1_float32:.4g} in "
                      f"float32 and {worst.lambda_1_float64:.4g} in float64; use --dtype "
                      f"float64", UserWarning, stacklevel=3)
    return check


def analyze(model: Path | str | Sequence[Path | str], out: Path | str,
            **options: Any) -> list[Path]:
    """Analyse a checkpoint, or compare several, into ``out``; returns the files written.

    Parameters
    ----------
    model : ``.npz`` of arrays or a ``torch.save``-d state_dict (PyTorch names), or a
        dict holding it (``key``); or a list of them, compared on the same sequences
        (:mod:`gradflow._analyze.compare`), each with its own report in ``out/<stem>/``
    out : folder of the analysis (replaced only when the analysis is complete)
    inputs : ``.npy`` / ``.npz`` / ``.pt`` of float inputs (T, N, I)
    tokens : ``.npy`` / ``.npz`` / ``.pt`` of integer ids (T + 1, N) (``batch_first``:
        (N, T + 1); or a stream (L,) cut by ``steps``), fed through the checkpoint's
        embedding, the loss read through its decoder
    data_key : the array's name in an ``.npz`` or saved dict of several
    key : the state dict's key in a saved dict (default: a common one, found)
    prefix, nonlinearity, reset_after : see :func:`gradflow.checkpoint.infer_network`
    embedding, decoder : the modules' names when the checkpoint has several candidates
    exponents : Lyapunov exponents per layer and direction, ``1 <= exponents <= S``
        (default ``min(10, S)``)
    steps, batch : shape of the synthetic N(0, 1) inputs (default 200, 8; without data)
    batch_size : sequences measured at a time (bounds memory)
    warmup : steps from the zero initial state left out of every number (default T // 5)
    fit_skip : distances next to the loss left out of the decay fit (default T // 5)
    initial_state : ``.npy`` / ``.npz`` / ``.pt`` of PyTorch's h0 (L*D, N, H) per sequence
        ((h0, c0) stacked as (2, L*D, N, H) for the LSTM), instead of zeros; the warm-up
        then defaults to 0
    seed : of the synthetic inputs, the random readouts and the Lyapunov frame
    dtype : "float64" (default) or "float32" (faster, for large models)
    progress : a tqdm bar over batches; None: only on a terminal
    """
    from gradflow._analyze.compare import labels, write_comparison
    from gradflow._analyze.data import check_out
    from gradflow._analyze.write import write_one
    from gradflow.report.staging import staging_folder, swap_in

    out = check_out(out)
    models = [model] if isinstance(model, str | Path) else list(model)
    if not models:
        raise UsageError("model must be a checkpoint or a list of checkpoints; got none")
    measured = [measure(m, **options) for m in models]
    staging = staging_folder(out)
    try:
        written = write_one(staging, measured[0]) if len(models) == 1 else \
            write_comparison(staging, measured, labels([Path(m) for m in models]))
        return swap_in(staging, out) if written else []
    finally:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)


def _run(args: argparse.Namespace) -> int:
    written = analyze(args.model[0] if len(args.model) == 1 else args.model, args.out,
                      inputs=args.inputs, tokens=args.tokens,
                      data_key=args.data_key, batch_first=args.batch_first, key=args.key,
                      prefix=args.prefix, nonlinearity=args.nonlinearity,
                      reset_after=not args.reset_before, embedding=args.embedding,
                      decoder=args.decoder, exponents=args.exponents, steps=args.steps,
                      batch=args.batch, batch_size=args.batch_size, warmup=args.warmup,
                      fit_skip=args.fit_skip, initial_state=args.initial_state,
                      seed=args.seed, dtype=args.dtype)
    print(f"gradflow analyze: wrote {len(written)} files into {args.out}/; see "
          f"{Path(args.out) / 'REPORT.md'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` subcommand."""
    from gradflow.conventions import NONLINEARITIES

    parser = subparsers.add_parser(
        "analyze", help="the gradient-flow diagnostics of a trained checkpoint",
        description="Read a trained RNN/LSTM/GRU (a PyTorch state_dict saved with torch.save, "
                    "or an .npz of arrays with PyTorch names), infer its architecture, and "
                    "write REPORT.md with figures, numbers.csv and sequences.csv into --out: "
                    "singular values and spectral radius of W_hh, gradient-norm decay back in "
                    "time, Lyapunov spectrum per layer and direction, gate statistics and "
                    "timescales, each statistic with a 95% interval across sequences.")
    parser.add_argument("model", type=Path, metavar="MODEL", nargs="+",
                        help="the checkpoint (.npz, or a torch.save-d state_dict); several "
                             "are compared on the same sequences (trained vs untrained, a "
                             "series)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    data = parser.add_argument_group("data (default: N(0, 1) noise, which is not the "
                                     "model's data)")
    data.add_argument("--tokens", type=Path, default=None, metavar="FILE",
                      help="integer token ids (.npy, .npz, .pt), (T+1, N) time-major, fed "
                           "through the model's embedding; its decoder's next-token "
                           "cross-entropy is the loss")
    data.add_argument("--batch-first", action="store_true",
                      help="--tokens is (N, T+1)")
    data.add_argument("--inputs", type=Path, default=None, metavar="FILE",
                      help="float inputs (T, N, I) of the recurrent module (.npy, .npz, .pt)")
    data.add_argument("--data-key", default=None, metavar="NAME",
                      help="the array's name in an .npz or saved dict of several")
    data.add_argument("--steps", type=int, default=None,
                      help=f"T of the synthetic inputs (default {DEFAULT_STEPS}), or of the "
                           f"sequences a 1-d --tokens stream is cut into")
    data.add_argument("--batch", type=int, default=None,
                      help=f"N of the synthetic inputs (default {DEFAULT_BATCH})")
    data.add_argument("--batch-size", type=int, default=32,
                      help="sequences measured at a time (default %(default)s; bounds memory)")
    model = parser.add_argument_group("model (what names cannot say)")
    model.add_argument("--key", default=None,
                       help="the state dict's key in a saved dict (default: state_dict, "
                            "model_state_dict, model, ... whichever is there)")
    model.add_argument("--prefix", default=None,
                       help="the recurrent module's name prefix when the file holds several "
                            "(e.g. 'encoder.rnn.')")
    model.add_argument("--embedding", default=None, metavar="MODULE",
                       help="the embedding's module name, when several could be")
    model.add_argument("--decoder", default=None, metavar="MODULE",
                       help="the decoder's module name, when several could be")
    model.add_argument("--nonlinearity", choices=NONLINEARITIES, default=None,
                       help="RNN only, required for it (a state_dict cannot say it)")
    model.add_argument("--reset-before", action="store_true",
                       help="GRU only: the Cho 2014 form (default: PyTorch's, reset after)")
    measure = parser.add_argument_group("measurement")
    measure.add_argument("--exponents", type=int, default=None,
                         help=f"Lyapunov exponents per layer and direction (default "
                              f"min({DEFAULT_EXPONENTS}, state size))")
    measure.add_argument("--warmup", type=int, default=None,
                         help="steps from the zero initial state left out (default T // 5)")
    measure.add_argument("--initial-state", type=Path, default=None, metavar="FILE",
                         help="h0 (L*D, N, H) per sequence, or (h0, c0) stacked (2, L*D, N, H) "
                              "for an LSTM, instead of zeros (the warm-up then defaults to 0)")
    measure.add_argument("--fit-skip", type=int, default=None,
                         help="distances next to the loss left out of the decay fit "
                              "(default T // 5)")
    measure.add_argument("--seed", type=int, default=0,
                         help="of the synthetic inputs, the random readouts and the "
                              "Lyapunov frame")
    measure.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                         help="float32 halves memory and time for large models")
    parser.set_defaults(func=_run)
