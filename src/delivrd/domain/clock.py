"""Time as delivrd counts it: integer microseconds since the Unix epoch, UTC, everywhere inside.

Integers keep arithmetic exact and identical in Python, SQLite and PostgreSQL; text is made
only at the edges (`query.models` for the API, the CLI's tables and exports).
"""

from __future__ import annotations

import time
from datetime import timedelta, timezone

SECOND_US = 1_000_000
HOUR_US = 3600 * SECOND_US
DAY_US = 24 * HOUR_US

#: China Standard Time: the zone Tencent writes its handset times in, and the offset the API shows them with
UTC8 = timezone(timedelta(hours=8), "UTC+8")


def now_micros() -> int:
    """The current time in microseconds since the epoch (exact: no float on the way)."""
    return time.time_ns() // 1000
