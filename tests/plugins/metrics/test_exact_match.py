"""Exact match (``vleval_metrics.exact_match``) in its modes, by hand."""

from __future__ import annotations

import pytest

from vleval_metrics.exact_match import exact_match, exact_match_score

# ---------------------------------------------------------------------------------------------- exact match


def test_exact_match_official_strict_and_vlmevalkit():
    assert exact_match("Two dogs.", ["2 dogs"]) == 1.0
    assert exact_match("Two dogs.", ["2 dogs"], "strict") == 0.0
    assert exact_match("Two dogs.", ["2 dogs"], "vlmevalkit") == 0.0
    assert exact_match("Yes", "yes") == 1.0  # the processing is unconditional here
    assert exact_match("yes", ["no", "yes"], "strict") == 1.0
    assert exact_match(" yes", ["yes"], "strict") == 0.0
    assert exact_match(" Yes ", ["yes"], "vlmevalkit") == 1.0
    assert exact_match("it's", ["its"]) == 0.0
    score = exact_match_score(["a cat", "dog", "x"], [["cat"], "Dog", ["y", "z"]], groups=["g", "h", "g"])
    assert score.per_item == (1.0, 1.0, 0.0) and score.value == 2 / 3 and score.by_group == {"g": 0.5, "h": 1.0}
    with pytest.raises(ValueError):
        exact_match("x", [])
