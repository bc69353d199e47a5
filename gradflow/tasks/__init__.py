"""Synthetic tasks, each generated from a seed (nothing is downloaded).

Every task is a frozen dataclass with ``sample(rng, batch_size, split)``
returning time-major ``x`` ``(T, B, I)`` and targets ``y``; it names its
``input_size``, ``output_size``, ``head`` (``"final"`` or ``"every_step"``)
and ``loss`` (``"mse"`` or ``"xent"``), and ``baseline()`` gives the loss of
the best memoryless predictor.

==================  =====  ======  ===========  =====  ==================
task                I      O       head         loss   baseline
==================  =====  ======  ===========  =====  ==================
AddingProblem       2      1       final        mse    1/6 (urnn), 1/24
CopyTask            S+2    S+1     every_step   xent   K ln S / (T0 + 2K)
TemporalOrder       8      4       final        xent   ln 4
Agreement           V      2       final        xent   ln 2
EarlyCue            N+2    2       final        xent   ln 2
==================  =====  ======  ===========  =====  ==================
"""

from gradflow.tasks._base import HEADS, LOSSES, SPLITS, Task, memoryless_loss, one_hot
from gradflow.tasks.adding import ADDING_VARIANTS, AddingProblem
from gradflow.tasks.agreement import Agreement
from gradflow.tasks.copy import CopyTask
from gradflow.tasks.early_cue import CUE_POSITIONS, EarlyCue
from gradflow.tasks.temporal_order import TEMPORAL_ORDER_SYMBOLS, TemporalOrder

__all__ = [
    "ADDING_VARIANTS",
    "CUE_POSITIONS",
    "HEADS",
    "LOSSES",
    "SPLITS",
    "TEMPORAL_ORDER_SYMBOLS",
    "AddingProblem",
    "Agreement",
    "CopyTask",
    "EarlyCue",
    "Task",
    "TemporalOrder",
    "memoryless_loss",
    "one_hot",
]

# AgreementLM (I = V, O = V or 2, head every_step or final, xent; baseline: the per-step
# entropy of the next word's class mix, or ln 2): Linzen et al.'s language-model objective.
from gradflow.tasks.agreement_lm import AGREEMENT_OBJECTIVES, AgreementLM  # noqa: E402

__all__ += ["AGREEMENT_OBJECTIVES", "AgreementLM"]
