"""Unsubscribe and re-subscribe keywords: which reply texts put a number on the opt-out list, and which take it off.

Chinese marketing templates must offer "拒收请回复R" (or T, TD, 退订), and people answer in many ways: `td`,
` TD `, full-width `ＴＤ`, `TD　` with an ideographic space. A reply counts only when its WHOLE text, normalised
(NFKC, which turns full-width letters and the ideographic space into their plain forms; surrounding whitespace
trimmed; case folded), is one of the keywords, normalised the same way: "TD" matches, "I will not TD" does not.
Both lists are settings (`--optout-keywords`, `--resubscribe-keywords`); a word in both unsubscribes (an
opt-out wrongly kept costs less than a marketing message wrongly sent).
"""

from __future__ import annotations

import argparse
import unicodedata

#: what a change does to a number: put it on the opt-out list, or take it off
ADDED = "added"
REMOVED = "removed"
ACTIONS = (ADDED, REMOVED)
#: where a change came from: a reply's keyword, the API or CLI by hand, a CSV import
REPLY = "reply"
MANUAL = "manual"
IMPORT = "import"
SOURCES = (REPLY, MANUAL, IMPORT)

DEFAULT_OPTOUT_KEYWORDS = "R,T,TD,N,退订,拒收,STOP,UNSUBSCRIBE"
DEFAULT_RESUBSCRIBE_KEYWORDS = "START,订阅"


def normalise(text: str) -> str:
    """`text` as keywords are compared: NFKC, trimmed (any Unicode space, the ideographic one too), case folded."""
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return unicodedata.normalize("NFKC", folded)  # folding can leave a compatibility form behind (rare)


class Keywords(tuple[str, ...]):
    """A keyword list as configured; written back as it was read (comma-separated), so the environment
    carries it to each worker process."""

    def __str__(self) -> str:
        return ",".join(self)


def keywords(text: str) -> Keywords:
    """The `--optout-keywords` / `--resubscribe-keywords` setting: comma-separated words, at least one."""
    words = Keywords(word.strip() for word in text.split(",") if normalise(word))
    if not words:
        raise argparse.ArgumentTypeError(f"no keyword in {text!r} (comma-separated words, e.g. TD,退订)")
    return words


class Classifier:
    """Reply text → ADDED (an unsubscribe keyword), REMOVED (a re-subscribe keyword) or None (anything else)."""

    def __init__(self, optout: Keywords | str, resubscribe: Keywords | str) -> None:
        optout = keywords(optout) if isinstance(optout, str) else optout
        resubscribe = keywords(resubscribe) if isinstance(resubscribe, str) else resubscribe
        self._actions = {normalise(word): REMOVED for word in resubscribe}
        self._actions.update({normalise(word): ADDED for word in optout})  # a word in both lists unsubscribes

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return None
        return self._actions.get(normalise(text))
