"""Retention: what `--retention-days` removes, the same rule for `serve`'s hourly upkeep and `delivrd db prune`."""

from __future__ import annotations

from delivrd.domain.clock import DAY_US, now_micros


def retention_cutoff(days: int) -> int:
    """Microseconds since the epoch, `days` days ago: what was received before it is removed."""
    return now_micros() - days * DAY_US
