"""Time zones for the statistics' days: reading a zone's name, and where its offset from UTC changes.

Days (`by=day`) start at midnight in a zone (`tz=`, `--timezone`); the rollups keep whole
hours, so a zone whose offset is a whole number of hours (UTC, Asia/Shanghai, every DST
zone of Europe and America) is counted exactly. For one that is not (Asia/Kolkata, +05:30),
an hour that straddles local midnight is counted on the day it starts in; the seconds and
minutes at a range's edges are still placed exactly. Names come from the system's zone
database, or the pinned `tzdata` package where there is none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from delivrd.domain.clock import DAY_US, SECOND_US

#: where the search for offset changes begins when a range has no start (earlier data: the offset then)
SEARCH_FROM = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()) * SECOND_US
#: offsets are sampled this often; a zone keeps each offset far longer (DST: months)
SAMPLE_US = 7 * DAY_US


def zone(name: str) -> ZoneInfo:
    """The zone called `name` (IANA: UTC, Asia/Shanghai); ValueError saying what is expected."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not a time zone: {name!r} (an IANA name, e.g. UTC, Asia/Shanghai)") from None


def offset(tz: ZoneInfo, moment: int) -> int:
    """How far (µs) the zone's clock is ahead of UTC at `moment` (µs since the epoch)."""
    delta = datetime.fromtimestamp(moment // SECOND_US, tz).utcoffset()
    return 0 if delta is None else int(delta.total_seconds()) * SECOND_US


def segments(tz: ZoneInfo, since: int | None, until: int | None, now: int) -> list[tuple[int | None, int | None, int]]:
    """[since, until) cut where the zone's offset changes: (start, end, offset) pieces, None for an open end.

    An open end is searched from SEARCH_FROM, or up to a day after `now`, beyond which the offset is taken as
    constant."""
    lo = SEARCH_FROM if since is None else since
    hi = now + DAY_US if until is None else until
    pieces: list[tuple[int | None, int | None, int]] = []
    start, current = since, offset(tz, lo)
    at = lo
    while at < hi:
        step = min(at + SAMPLE_US, hi)
        if offset(tz, step) != current:
            # the first second at which the offset is no longer `current`, between `at` and `step`
            a, b = at // SECOND_US, step // SECOND_US
            while b - a > 1:
                middle = (a + b) // 2
                a, b = (middle, b) if offset(tz, middle * SECOND_US) == current else (a, middle)
            change = b * SECOND_US
            pieces.append((start, change, current))
            start, current = change, offset(tz, change)
        at = step
    pieces.append((start, until, current))
    return pieces
