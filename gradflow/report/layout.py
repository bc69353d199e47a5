"""The claims of a section, written the same way for every analysis.

Each claim carries the sentence a reader sees for its verdict
(:class:`~gradflow.report.claims.Says`) and the key of its group. A group is
written, in the order the summary declares (then in order of first
appearance), as

- each claim's own sentence, in order (the default); or
- a *tally* of its verdicts (``"Of the {n} increases, {holds} slow the decay,
  {fails} speed it up and {inconclusive} are not resolved."``); and/or
- a *listing* by verdict: one sentence per verdict that some claim has, with
  the claims' labels (``"It does not for {labels}."``), in the order holds,
  fails, inconclusive.

Consecutive groups share a paragraph unless a group starts a new one; a group
with ``bullets`` is a Markdown list of its sentences (under its ``intro``), a
paragraph of its own. Claims with no group (``group=""``) are listed in the
claims table only. An analysis
declares :class:`Group` objects as data; it never writes verdict prose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gradflow._validate import UsageError, describe
from gradflow.report.claims import VERDICTS, Claim

__all__ = ["Group", "paragraphs"]


@dataclass(frozen=True)
class Group:
    """How one group of claims reads (see the module docstring).

    Attributes
    ----------
    key : the group key its claims carry
    tally : a template with ``{n}``, ``{holds}``, ``{fails}``, ``{inconclusive}``
    holds, fails, inconclusive : listing templates with ``{labels}`` (the labels of the
        claims with that verdict, joined by ", ") and ``{n}`` (how many)
    new_paragraph : start a new paragraph with this group
    bullets : write the sentences as a Markdown list (its own paragraph)
    intro : the text above the list (``bullets`` only)
    """

    key: str
    tally: str | None = None
    holds: str | None = None
    fails: str | None = None
    inconclusive: str | None = None
    new_paragraph: bool = False
    bullets: bool = False
    intro: str = ""

    def listing(self, verdict: str) -> str | None:
        return {"holds": self.holds, "fails": self.fails,
                "inconclusive": self.inconclusive}[verdict]

    def write(self, claims: Sequence[Claim]) -> list[str]:
        """The sentences of this group's ``claims`` (all of this group, in order)."""
        counts = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
        listed = any(self.listing(v) is not None for v in VERDICTS)
        if self.tally is None and not listed:
            return [c.sentence for c in claims if c.sentence]
        out = [self.tally.format(n=len(claims), **counts)] if self.tally and claims else []
        for verdict in VERDICTS:
            template = self.listing(verdict)
            chosen = [c for c in claims if c.verdict == verdict]
            if template is not None and chosen:
                unlabeled = [c.name for c in chosen if not c.label]
                if unlabeled:
                    raise UsageError(f"group {self.key!r} lists claims by label; claim(s) "
                                     f"{', '.join(unlabeled)} have none")
                out.append(template.format(labels=", ".join(c.label for c in chosen),
                                           n=len(chosen)))
        return out


def paragraphs(claims: Iterable[Claim], groups: Sequence[Group] = ()) -> list[str]:
    """The prose of ``claims``: one string per paragraph (Markdown), groups in the order
    of ``groups``, then the other groups in order of first appearance."""
    claims = list(claims)
    declared = {g.key: g for g in groups}
    if len(declared) != len(groups):
        raise UsageError(f"group keys must be unique; got {describe([g.key for g in groups])}")
    order = [g.key for g in groups]
    order += [k for k in dict.fromkeys(c.group for c in claims if c.group) if k not in declared]
    out: list[list[str]] = []
    for key in order:
        group = declared.get(key, Group(key))
        sentences = group.write([c for c in claims if c.group == key])
        if not sentences:
            continue
        if group.bullets:
            items = "\n".join(f"- {s}" for s in sentences)
            out.append([f"{group.intro}\n\n{items}" if group.intro else items])
            out.append([])      # what follows a list starts a new paragraph
            continue
        if group.new_paragraph or not out:
            out.append([])
        out[-1].extend(sentences)
    return [" ".join(p) for p in out if p]
