"""Latency buckets: how the statistics keep delivery latency per hour, and the error that costs.

Rollups keep latency as a histogram with fixed log-scale buckets, so a percentile over
any range is a sum of buckets. A bucket holds whole seconds with 3 significant bits,
as HdrHistogram does: 0 to 15 s one second each (exact), then every power of two split
into 8 equal parts ([16, 18), [18, 20), … [32, 36), …). A value is kept as its bucket's
lower bound (toward zero for the rare negative latency, a handset clock behind Tencent's).
So a percentile read from buckets, r, and the exact one, v, satisfy |r| <= |v| < |r| * 9/8:
exact under 16 s, never more than 12.5 % low above. The same rule as SQL (for the triggers
and the queries) and as Python.
"""

from __future__ import annotations

#: significant bits kept: 2**SIGNIFICANT_BITS buckets per power of two
SIGNIFICANT_BITS = 3
#: values below this are their own bucket (exact)
EXACT_BELOW = 2 ** (SIGNIFICANT_BITS + 1)
#: the stated worst case: a percentile is at most this fraction below the exact one (and never above)
MAX_RELATIVE_ERROR = 1 / 2**SIGNIFICANT_BITS
#: the SQL ladder's last step: |value| >= 2**(LADDER_TOP - 1) all share its width
LADDER_TOP = 40


def bucket(seconds: int) -> int:
    """The lower bound (toward zero) of the bucket holding `seconds`."""
    magnitude = abs(seconds)
    if magnitude < EXACT_BELOW:
        return seconds
    width = 1 << (magnitude.bit_length() - 1 - SIGNIFICANT_BITS)
    floor = magnitude // width * width
    return floor if seconds >= 0 else -floor


def bucket_sql(value: str) -> str:
    """`bucket` as one SQL expression over an integer expression (NULL stays NULL). SQLite and PostgreSQL both
    divide integers toward zero, which keeps negative values symmetric. Stored times lie within years 1 to
    9999 (`domain.storable`), so a latency is under 2**39 s: the last branch takes everything from 2**39 up."""
    # NULL first: it would otherwise fail every comparison of the ladder (most messages have no latency)
    branches = [f"WHEN {value} IS NULL THEN NULL WHEN abs({value}) < {EXACT_BELOW} THEN {value}"]
    for top in range(SIGNIFICANT_BITS + 2, LADDER_TOP + 1):
        width = 1 << (top - 1 - SIGNIFICANT_BITS)
        test = "ELSE" if top == LADDER_TOP else f"WHEN abs({value}) < {1 << top} THEN"
        branches.append(f"{test} {value} / {width} * {width}")
    return "CASE " + " ".join(branches) + " END"
