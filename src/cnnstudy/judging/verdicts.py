"""Every verdict word the judging stage writes, one enum per vocabulary. They stay apart
because they answer different questions:

- :class:`Verdict`: did a report's claim hold on our runs (the study's point)?
- :class:`Outcome`: what one Holm-adjusted test of a claim says (a claim has several; its
  verdict is read off all of them, and "no data" is not "not run" until every test lacks data).
- :class:`Comparison`: the config's own question "is a better than b?" (no claimed
  direction, so no "contradicted": a run is better, worse, or the interval covers zero).
- :class:`Ranking`: how clear an order of several runs is (neighbours can tie in part).
- :class:`Robustness`: whether a conclusive verdict survives leaving any one seed out.

Their values are the words written to the tables; an enum compares equal to its word.
"""

from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A verdict word: a ``str`` (tables, comparisons) that prints as its word."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Verdict(Word):
    REPRODUCED = "reproduced"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive"
    NOT_RUN = "not run"


class Outcome(Word):
    SUPPORTS = "supports"
    CONTRADICTS = "contradicts"
    INCONCLUSIVE = "inconclusive"
    NO_DATA = "no data"


class Comparison(Word):
    BETTER = "better"
    WORSE = "worse"
    INCONCLUSIVE = "inconclusive"


class Ranking(Word):
    CLEAR = "clear"
    PARTLY_TIED = "partly tied"
    INCONCLUSIVE = "inconclusive"


class Robustness(Word):
    ROBUST = "robust"
    FRAGILE = "fragile"


VERDICTS = tuple(v.value for v in Verdict)  # the claims table's order of columns and colours
