"""Claims: a statement, a verdict computed from the data, and its evidence.

An analysis's ``summarize(frame)`` is pure: it returns a :class:`Summary` of
its tables, its citable numbers and its claims. A claim carries the sentence
a reader sees for each verdict (:class:`Says`) and the key of the group it is
written with; :mod:`gradflow.report.layout` writes the claims of a group the
same way for every analysis (its own sentences, or a tally or a listing the
summary declares with :class:`~gradflow.report.layout.Group`), so ``render``
only draws: no analysis writes verdict prose or finds a claim by its name.

A verdict is one of

- ``"holds"``: the data support the statement at the stated confidence;
- ``"fails"``: the data contradict it (the opposite is supported, or the
  measurement lies outside the stated margin);
- ``"inconclusive"``: neither (an interval that straddles the threshold, too
  few runs, an uninformative fit). The evidence says what was available.

The constructors below decide the verdict from intervals and tests, each in one
place, so every analysis reads its data the same way:

- :func:`exceeds` / :func:`below`: an estimate's interval against a threshold;
- :func:`matches`: a measurement's interval against a prediction with a margin
  (equivalence: the whole interval inside the margin);
- :func:`proportion`: successes out of n (Wilson interval) against a threshold;
- :func:`differ`: two groups of per-seed values (Mann-Whitney U, a rank test that
  fits bimodal per-seed results; "no difference" only by TOST within a margin);
- :func:`survival_differ`: two groups of censored times-to-solve (log-rank).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as _stats

from gradflow._validate import UsageError, describe

__all__ = ["VERDICTS", "Cite", "Claim", "Says", "Summary", "Verdict", "below", "differ",
           "exceeds", "fmt", "matches", "more_seeds", "proportion", "survival_differ"]

Verdict = Literal["holds", "fails", "inconclusive"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def fmt(value: float, digits: int = 3) -> str:
    """A number for evidence text: ``digits`` significant figures, ``inf`` as such."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def _interval(estimate: float, low: float, high: float, digits: int = 3) -> str:
    return f"{fmt(estimate, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


@dataclass(frozen=True)
class Says:
    """The sentence a reader sees for each verdict of a claim (Markdown)."""

    holds: str
    fails: str
    inconclusive: str

    def __call__(self, verdict: Verdict) -> str:
        return {"holds": self.holds, "fails": self.fails,
                "inconclusive": self.inconclusive}[verdict]


@dataclass(frozen=True)
class Claim:
    """A statement about the data, its computed verdict, and the evidence.

    Attributes
    ----------
    name : lower_snake_case key, unique in its analysis (``bound_holds``)
    statement : the claim as one sentence, true when the verdict is ``holds``
    verdict : ``"holds"``, ``"fails"`` or ``"inconclusive"``
    evidence : the statistic, interval or test and its result, as text
    says : the sentence a reader sees for each verdict (None: the claim is listed in
        the claims table only)
    group : the key of the group whose prose it is written in ("" for none)
    label : its subject where a group lists claims by verdict (``"LSTM, b_f = 1"``)
    """

    name: str
    statement: str
    verdict: Verdict
    evidence: str
    says: Says | None = None
    group: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise UsageError(f"a claim's name must be lower_snake_case; got {describe(self.name)}")
        if self.verdict not in VERDICTS:
            raise UsageError(f"claim {self.name!r}: verdict must be one of {VERDICTS}; got "
                             f"{describe(self.verdict)}")
        for what in ("statement", "evidence"):
            text = getattr(self, what)
            if not isinstance(text, str) or not text.strip():
                raise UsageError(f"claim {self.name!r} needs a non-empty {what}; got "
                                 f"{describe(text)}")

    def choose(self, *, holds: str, fails: str, inconclusive: str) -> str:
        """The text for this claim's verdict (prose chosen by the data)."""
        return {"holds": holds, "fails": fails, "inconclusive": inconclusive}[self.verdict]

    @property
    def sentence(self) -> str:
        """What a reader sees for this claim's verdict ("" when it says nothing)."""
        return self.says(self.verdict) if self.says is not None else ""

    def reads(self, says: Says | None = None, *, group: str | None = None,
              label: str | None = None) -> Claim:
        """The same claim with its reader's sentences, group or label set."""
        return replace(self, says=self.says if says is None else says,
                       group=self.group if group is None else group,
                       label=self.label if label is None else label)


@dataclass(frozen=True)
class Cite:
    """A citable number before it is placed in a section (see ``Section.number``)."""

    value: float
    description: str
    low: float | None = None
    high: float | None = None
    unit: str = ""
    digits: int = 3


@dataclass
class Summary:
    """What an analysis's pure ``summarize(frame)`` returns.

    Attributes
    ----------
    tables : name -> DataFrame (what ``render`` draws and writes)
    numbers : macro name (CamelCase) -> :class:`Cite`
    claims : claim name -> :class:`Claim`, in the order they were made
    groups : how groups of claims read, in the order they are written
        (:class:`gradflow.report.layout.Group`; undeclared groups follow, each claim's
        own sentence)
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    numbers: dict[str, Cite] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    groups: list[Any] = field(default_factory=list)

    def group(self, group: Any) -> None:
        """Declare how a group of claims reads (a :class:`~gradflow.report.layout.Group`)."""
        from gradflow.report.layout import Group

        if not isinstance(group, Group):
            raise UsageError(f"group must be a gradflow.report.layout.Group; got "
                             f"{describe(group)}")
        self.groups.append(group)

    def number(self, name: str, value: float, description: str, *, low: float | None = None,
               high: float | None = None, unit: str = "", digits: int = 3) -> None:
        """A citable number; a non-finite one is refused (it is not citable)."""
        if name in self.numbers:
            raise UsageError(f"number {name!r} is already in this summary")
        value = float(value)
        if not math.isfinite(value):
            raise UsageError(f"number {name!r} is {value}: only finite numbers are citable; "
                             f"report an uninformative estimate as a claim's evidence instead")
        self.numbers[name] = Cite(value, description, low, high, unit, digits)

    def claim(self, claim: Claim) -> Claim:
        """Add a claim (its name must be new); returns it, for ``choose``."""
        if not isinstance(claim, Claim):
            raise UsageError(f"claim must be a Claim; got {describe(claim)}")
        if claim.name in self.claims:
            raise UsageError(f"claim {claim.name!r} is already in this summary")
        self.claims[claim.name] = claim
        return claim

    def verdicts(self) -> dict[str, str]:
        """claim name -> verdict (what a test asserts on)."""
        return {name: c.verdict for name, c in self.claims.items()}


# An inconclusive verdict says whether more seeds would decide it, and at about what
# multiple of the runs. Take the present estimate as the true effect. With k times the
# runs its standard error shrinks by sqrt(k), so a test's z-score z (the distance from the
# threshold in standard errors) grows to z sqrt(k); the verdict is reached when it passes
# the critical value z_c (1.96 for a two-sided 95% test or interval; 1.645 for each
# one-sided test of a TOST at 5%), which it does with probability POWER when
#     z sqrt(k) = z_c + z_POWER,   i.e.   k = ((z_c + z_POWER) / z)^2.
# A note's "factor" is the multiple at which the expected z-score just reaches z_c (the
# expected interval just touches the threshold), (z_c / z)^2: 50% power, even odds. For a
# test with p-value p, z = z(p); for an interval, z = z_c * distance / half, with ``half``
# the interval's side towards the threshold (from the estimate to the end that crosses
# it: an interval inside bounds is not symmetric), so factor = (half / distance)^2. The
# note states the multiple for POWER: factor * ((z_c + z_POWER) / z_c)^2 (about 2.04x the
# factor at z_c = 1.96). Beyond MORE_SEEDS_LIMIT times the runs, more seeds are not a
# remedy (the effect, if any, is smaller than the design can see).
MORE_SEEDS_LIMIT = 10.0
POWER = 0.8


def _power_multiple(factor: float, alpha: float = 0.05, sides: int = 2) -> float:
    """The multiple of the runs for ``POWER`` from the 50%-power ``factor`` (above)."""
    z_c = float(_stats.norm.isf(alpha / sides))
    return factor * ((z_c + float(_stats.norm.ppf(POWER))) / z_c) ** 2


def _runs(multiple: float) -> str:
    if not math.isfinite(multiple) or multiple > MORE_SEEDS_LIMIT:
        return f"more than {MORE_SEEDS_LIMIT:g}x the runs"
    return f"about {max(multiple, 1.0):.2g}x the runs"


def more_seeds(factor: float, *, alpha: float = 0.05, sides: int = 2) -> str:
    """The evidence's note on power: how many times the runs would decide it.

    ``factor`` is the 50%-power multiple (the comment above): ``(z_c / z)^2`` for a test
    whose z-score is ``z`` (``z_c`` from ``alpha``, two-sided unless ``sides=1``), or
    ``(half / distance)^2`` for an interval. The note states the multiple for 80% power
    (``POWER``), and that more seeds would hardly decide it beyond ``MORE_SEEDS_LIMIT``.
    """
    multiple = _power_multiple(factor, alpha, sides)
    if not math.isfinite(multiple) or multiple > MORE_SEEDS_LIMIT:
        return (f"more seeds would hardly decide it ({POWER:.0%} power would take "
                f"{_runs(multiple)} at this distance from the threshold)")
    return (f"more seeds would likely decide it ({_runs(multiple)} for {POWER:.0%} power, "
            f"if the effect is as estimated)")


def _side_factor(estimate: float, low: float, high: float, threshold: float) -> float:
    """(half / distance)^2 with ``half`` the interval's side towards ``threshold``."""
    distance = abs(estimate - threshold)
    half = estimate - low if estimate > threshold else high - estimate
    return math.inf if distance <= 0 else (half / distance) ** 2


def _p_factor(p: float, alpha: float, sides: int = 2) -> float:
    """(z_c / z)^2 for a p-value ``p`` (``sides``: 2 two-sided, 1 one-sided)."""
    z_p = float(_stats.norm.isf(p / sides)) if p < 1 else 0.0
    return math.inf if z_p <= 0 else (float(_stats.norm.isf(alpha / sides)) / z_p) ** 2


def _matches_factor(estimate: float, low: float, high: float, lo: float, hi: float) -> float:
    """The 50%-power factor of a measurement against the margin ``[lo, hi]``: inside it,
    both ends of the interval must come within it (the larger factor of the two edges);
    outside it, the interval's end across the nearer edge must leave it."""
    if lo <= estimate <= hi:
        return max(_side_factor(estimate, low, high, lo), _side_factor(estimate, low, high, hi))
    return _side_factor(estimate, low, high, hi if estimate > hi else lo)


def _either_seeds(p: float, p_eq: float, alpha: float) -> str:
    """The note for a difference test (two-sided ``p``) beside a TOST (``p_eq``): which of
    the two more seeds would decide, at what multiple for 80% power."""
    tests = {"the difference test": _power_multiple(_p_factor(p, alpha), alpha),
             "the equivalence test": _power_multiple(_p_factor(p_eq, alpha, 1), alpha, 1)}
    (first, k), (other, k_other) = sorted(tests.items(), key=lambda item: item[1])
    if not math.isfinite(k) or k > MORE_SEEDS_LIMIT:
        return (f"more seeds would hardly decide it ({POWER:.0%} power would take "
                f"{_runs(k)} for the difference test and for the equivalence test)")
    return (f"more seeds would likely decide it by {first} ({_runs(k)} for {POWER:.0%} "
            f"power, if the effect is as estimated; {other} would take {_runs(k_other)})")


def _finite(*values: float) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)


def exceeds(name: str, statement: str, estimate: float, low: float, high: float,
            threshold: float, *, what: str = "estimate", digits: int = 3,
            says: Says | None = None, group: str = "", label: str = "") -> Claim:
    """``estimate > threshold``: holds when the whole interval lies above the threshold,
    fails when it lies at or below it, inconclusive when it straddles it or is not finite.

    ``low``/``high`` are the interval's bounds (e.g. 95% t- or fit interval).
    """
    evidence = f"{what} {_interval(estimate, low, high, digits)} vs {fmt(threshold, digits)}"
    if not _finite(low, high):
        return Claim(name, statement, "inconclusive", evidence + "; the interval is not finite",
                     says, group, label)
    if low > threshold:
        verdict: Verdict = "holds"
    elif high <= threshold:
        verdict = "fails"
    else:
        verdict = "inconclusive"
        evidence += "; " + more_seeds(_side_factor(estimate, low, high, threshold))
    return Claim(name, statement, verdict, evidence, says, group, label)


def below(name: str, statement: str, estimate: float, low: float, high: float,
          threshold: float, *, what: str = "estimate", digits: int = 3,
          says: Says | None = None, group: str = "", label: str = "") -> Claim:
    """``estimate < threshold``: the mirror of :func:`exceeds`."""
    evidence = f"{what} {_interval(estimate, low, high, digits)} vs {fmt(threshold, digits)}"
    if not _finite(low, high):
        return Claim(name, statement, "inconclusive", evidence + "; the interval is not finite",
                     says, group, label)
    if high < threshold:
        verdict: Verdict = "holds"
    elif low >= threshold:
        verdict = "fails"
    else:
        verdict = "inconclusive"
        evidence += "; " + more_seeds(_side_factor(estimate, low, high, threshold))
    return Claim(name, statement, verdict, evidence, says, group, label)


def matches(name: str, statement: str, estimate: float, low: float, high: float,
            predicted: float, margin: float, *, what: str = "measured",
            digits: int = 3,
            says: Says | None = None, group: str = "", label: str = "") -> Claim:
    """A measurement agrees with a prediction within ``margin`` (an equivalence claim).

    Holds when the measurement's whole interval lies inside
    ``[predicted - margin, predicted + margin]``; fails when the interval lies
    entirely outside it (the disagreement exceeds the margin with confidence);
    inconclusive otherwise (too wide an interval to tell).
    """
    if not (margin > 0 and math.isfinite(margin)):
        raise UsageError(f"claim {name!r}: margin must be a finite number > 0; got {margin!r}")
    evidence = (f"{what} {_interval(estimate, low, high, digits)}, predicted "
                f"{fmt(predicted, digits)} +- {fmt(margin, 2)}")
    if not _finite(low, high, predicted):
        return Claim(name, statement, "inconclusive",
                     evidence + "; the interval or prediction is not finite", says, group, label)
    lo, hi = predicted - margin, predicted + margin
    if lo <= low and high <= hi:
        verdict: Verdict = "holds"
    elif high < lo or low > hi:
        verdict = "fails"
    else:
        verdict = "inconclusive"
        evidence += "; " + more_seeds(_matches_factor(estimate, low, high, lo, hi))
    return Claim(name, statement, verdict, evidence, says, group, label)


def proportion(name: str, statement: str, successes: int, n: int, threshold: float, *,
               at_least: bool = True, confidence: float = 0.95,
               says: Says | None = None, group: str = "", label: str = "") -> Claim:
    """A success rate of at least (or, ``at_least=False``, at most) ``threshold``.

    Decided by the Wilson score interval of ``successes / n``: holds when the
    interval lies on the stated side of the threshold, fails when it lies on the
    other side, inconclusive otherwise (the evidence states n: the power it had).
    """
    from gradflow.report.stats import rate_ci

    if n <= 0:
        return Claim(name, statement, "inconclusive", "no runs", says, group, label)
    p, low, high = rate_ci(int(successes), int(n), confidence)
    evidence = (f"{int(successes)}/{int(n)} = {fmt(p)}, Wilson {int(confidence * 100)}% "
                f"[{fmt(low)}, {fmt(high)}] vs {fmt(threshold)}")
    above, under = low >= threshold, high < threshold
    if at_least:
        verdict: Verdict = "holds" if above else "fails" if under else "inconclusive"
    else:
        above, under = low > threshold, high <= threshold
        verdict = "holds" if under else "fails" if above else "inconclusive"
    if verdict == "inconclusive":
        evidence += "; " + more_seeds(_side_factor(p, low, high, threshold),
                                        alpha=1 - confidence)
    return Claim(name, statement, verdict, evidence, says, group, label)


def differ(name: str, statement: str, a: ArrayLike, b: ArrayLike, *,
           alternative: Literal["greater", "less"] = "greater", alpha: float = 0.05,
           margin: float | None = None, labels: tuple[str, str] = ("a", "b"),
           says: Says | None = None, group: str = "", label: str = "") -> Claim:
    """Group ``a`` is larger (``alternative="greater"``) or smaller than group ``b``.

    Per-seed values, compared by the two-sided Mann-Whitney U test (a rank test:
    right for bimodal per-seed outcomes). Holds when p < alpha in the stated
    direction; fails when p < alpha in the other direction, or when ``margin``
    is given and TOST shows the means equal within it; inconclusive otherwise,
    with n per group in the evidence (the power the comparison had) and a note on
    how many times the runs would decide it: by the difference test or, with a
    ``margin``, by whichever of it and the equivalence test would take fewer.
    """
    from gradflow.report.stats import equivalence

    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    la, lb = labels
    if x.size < 2 or y.size < 2:
        return Claim(name, statement, "inconclusive",
                     f"n = {x.size} ({la}) and {y.size} ({lb}) finite values: too few to test",
                     says, group, label)
    test = _stats.mannwhitneyu(x, y, alternative="two-sided")
    p = float(test.pvalue)
    evidence = (f"median {la} {fmt(np.median(x))} vs {lb} {fmt(np.median(y))} "
                f"(n = {x.size}, {y.size}); Mann-Whitney U = {fmt(test.statistic)}, "
                f"p = {fmt(p, 2)}")
    sign = 1.0 if alternative == "greater" else -1.0
    # The direction of a rank test is the probability of superiority, not the medians.
    superiority = float(test.statistic) / (x.size * y.size) - 0.5
    if p < alpha and sign * superiority > 0:
        return Claim(name, statement, "holds", evidence, says, group, label)
    if p < alpha:
        return Claim(name, statement, "fails", evidence + "; significant the other way",
                     says, group, label)
    if margin is None:
        evidence += "; " + more_seeds(_p_factor(p, alpha), alpha=alpha)
        return Claim(name, statement, "inconclusive", evidence, says, group, label)
    p_eq = equivalence(x, y, margin)
    evidence += f"; TOST within +-{fmt(margin, 2)}: p = {fmt(p_eq, 2)}"
    if p_eq < alpha:
        return Claim(name, statement, "fails", evidence + " (equal within the margin)",
                     says, group, label)
    evidence += "; " + _either_seeds(p, p_eq, alpha)
    return Claim(name, statement, "inconclusive", evidence, says, group, label)


def survival_differ(name: str, statement: str, times_a: ArrayLike,
                    solved_a: ArrayLike, times_b: ArrayLike,
                    solved_b: ArrayLike, *, alpha: float = 0.05,
                    labels: tuple[str, str] = ("a", "b"),
                    says: Says | None = None, group: str = "", label: str = "") -> Claim:
    """Group ``a`` solves sooner than group ``b`` (censored times-to-solve).

    Log-rank test (two-sided) on the Kaplan-Meier data; the direction is read
    from the solved fractions at the common budget. Holds when p < alpha and
    ``a`` solved sooner; fails when p < alpha and ``b`` did; inconclusive
    otherwise.
    """
    from gradflow.report.stats import logrank

    ta, sa = np.asarray(times_a, float), np.asarray(solved_a, bool)
    tb, sb = np.asarray(times_b, float), np.asarray(solved_b, bool)
    la, lb = labels
    if ta.size < 2 or tb.size < 2:
        return Claim(name, statement, "inconclusive",
                     f"n = {ta.size} ({la}) and {tb.size} ({lb}) runs: too few to test",
                     says, group, label)
    if not sa.any() and not sb.any():
        return Claim(name, statement, "inconclusive",
                     f"no run solved ({la} 0/{ta.size}, {lb} 0/{tb.size})", says, group, label)
    statistic, p = logrank(ta, sa, tb, sb)
    if not math.isfinite(p):
        return Claim(name, statement, "inconclusive",
                     f"{la} solved {int(sa.sum())}/{ta.size}, {lb} {int(sb.sum())}/{tb.size}; "
                     f"the log-rank test is undefined here (its variance is 0: every run at "
                     f"risk solved at the same checks)", says, group, label)
    # Mean rank of solving time, censored runs last: who solves sooner.
    key_a = np.where(sa, ta, np.inf)
    key_b = np.where(sb, tb, np.inf)
    u = _stats.mannwhitneyu(key_a, key_b, alternative="two-sided").statistic
    sooner_a = float(u) / (ta.size * tb.size) < 0.5
    evidence = (f"{la} solved {int(sa.sum())}/{ta.size}, {lb} {int(sb.sum())}/{tb.size}; "
                f"log-rank z = {fmt(statistic)}, p = {fmt(p, 2)}")
    if p < alpha:
        return Claim(name, statement, "holds" if sooner_a else "fails",
                     evidence + ("" if sooner_a else f"; {lb} solved sooner"), says, group, label)
    evidence += "; " + more_seeds(_p_factor(p, alpha), alpha=alpha)
    return Claim(name, statement, "inconclusive", evidence, says, group, label)
