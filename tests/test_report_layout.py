"""The claims of a group, written the same way for every analysis (gradflow.report.layout)."""

import pytest

from gradflow import UsageError
from gradflow.report.claims import Claim, Says, Summary, exceeds
from gradflow.report.layout import Group, paragraphs
from gradflow.report.output import Section

SAYS = Says(holds="It holds.", fails="It fails.", inconclusive="Not decided.")


def _claim(name, verdict, group, label="", says=SAYS):
    return Claim(name, f"{name} is so.", verdict, "evidence", says, group, label)


def test_each_claim_reads_its_own_sentence_by_verdict():
    claims = [_claim("a", "holds", "g"), _claim("b", "fails", "g"),
              _claim("c", "inconclusive", "g")]
    assert paragraphs(claims) == ["It holds. It fails. Not decided."]


def test_a_verdict_rule_takes_the_readers_sentences():
    claim = exceeds("x", "x exceeds 1.", 2.0, 1.5, 2.5, 1.0, says=SAYS, group="g", label="x")
    assert (claim.verdict, claim.sentence, claim.group, claim.label) == \
        ("holds", "It holds.", "g", "x")
    below_threshold = exceeds("y", "y exceeds 1.", 0.5, 0.2, 0.8, 1.0, says=SAYS)
    assert below_threshold.sentence == "It fails." and below_threshold.group == ""


def test_a_tally_and_a_listing_by_verdict():
    group = Group("bias", tally="Of {n}: {holds} hold, {fails} fail, {inconclusive} open.",
                  holds="Longer for {labels}.", inconclusive="Unresolved for {labels} ({n}).")
    claims = [_claim("a", "holds", "bias", "A"), _claim("b", "inconclusive", "bias", "B"),
              _claim("c", "holds", "bias", "C"), _claim("d", "fails", "bias", "D")]
    assert paragraphs(claims, [group]) == [
        "Of 4: 2 hold, 1 fail, 1 open. Longer for A, C. Unresolved for B (1)."]


def test_groups_follow_the_declared_order_then_first_appearance_and_paragraphs():
    claims = [_claim("a", "holds", "late"), _claim("b", "fails", "first"),
              _claim("c", "holds", "other"), _claim("d", "holds", "")]
    out = paragraphs(claims, [Group("first"), Group("late", new_paragraph=True)])
    assert out == ["It fails.", "It holds. It holds."]   # 'other' joins 'late'; d: none


def test_a_listing_needs_labels_and_keys_are_unique():
    with pytest.raises(UsageError, match="claim\\(s\\) a have none"):
        paragraphs([_claim("a", "holds", "g")], [Group("g", holds="For {labels}.")])
    with pytest.raises(UsageError, match="group keys must be unique"):
        paragraphs([], [Group("g"), Group("g")])


def test_a_section_writes_each_group_once(tmp_path):
    summary = Summary()
    summary.claim(_claim("a", "holds", "early"))
    summary.claim(_claim("b", "fails", "late"))
    summary.group(Group("late"))
    summary.group(Group("early"))
    section = Section("demo", tmp_path)
    section.prose(summary, "early")            # placed before a figure, say
    section.summary(summary)                   # the rest, then the claims table
    assert section.blocks == ["It holds.", "It fails."]
    assert [c.name for c in section.claims] == ["a", "b"]


def test_a_bulleted_group_is_a_list_under_its_intro_in_a_paragraph_of_its_own():
    claims = [_claim("a", "holds", "before"), _claim("b", "fails", "list"),
              _claim("c", "holds", "list"), _claim("d", "inconclusive", "after")]
    groups = [Group("before"), Group("list", bullets=True, intro="Per cell:"), Group("after")]
    assert paragraphs(claims, groups) == ["It holds.", "Per cell:\n\n- It fails.\n- It holds.",
                                          "Not decided."]
