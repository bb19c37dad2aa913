"""What the stores can hold and the API can show: every value is checked against these before a commit.

One home for the limits, so that the decoder (which quarantines an item with the reason),
send registration (which answers 400) and the read side (which formats times) agree, and
whatever was acked can be read back on both backends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

#: Text that goes into an index (sid, mobile, nationcode, errmsg, template, sign): at most this many
#: characters. PostgreSQL refuses a B-tree entry over ~2,700 bytes, and `messages_stats` holds four
#: such columns; 128 characters are at most 512 bytes in UTF-8 (Tencent's sids are about 30).
KEY_CHARS = 128

#: How deep fields Tencent may add later (`extra`) may nest. Reading them back decodes them again,
#: deeper in the stack than ingest did, so what ingest barely took (~990 levels) would fail every read.
MAX_DEPTH = 64

#: The Unix seconds a time may have: a day inside years 1 to 9999, so that it can be shown in any
#: offset (UTC, UTC+8, the user's zone) without leaving the years `datetime` knows.
FIRST_SECOND = int(datetime(1, 1, 2, tzinfo=UTC).timestamp())
LAST_SECOND = int(datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC).timestamp())
FIRST_MICRO = FIRST_SECOND * 1_000_000
LAST_MICRO = LAST_SECOND * 1_000_000 + 999_999

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def text(name: str, value: str, *, key: bool = False) -> str:
    """`value` when a store can keep it as text (and index it, when `key`); ValueError saying why not."""
    if "\x00" in value:  # PostgreSQL text cannot hold it; refused alike on every backend
        raise ValueError(f"field {name!r} contains a NUL character (\\u0000), which cannot be stored as text")
    if key and len(value) > KEY_CHARS:
        raise ValueError(f"field {name!r} is longer than {KEY_CHARS} characters ({len(value)}), too long to index")
    return value


def seconds(value: int) -> bool:
    """Whether Unix seconds `value` can be stored and shown."""
    return FIRST_SECOND <= value <= LAST_SECOND


def micros(value: int) -> bool:
    """Whether microseconds since the epoch `value` can be stored and shown."""
    return FIRST_MICRO <= value <= LAST_MICRO


def moment(value_micros: int, zone: timezone = UTC) -> datetime:
    """Microseconds since the epoch as an aware datetime in `zone`.

    Arithmetic on the wall clock rather than `fromtimestamp`, which goes through UTC (and the
    C library) and fails for moments whose UTC date is fine but whose local one is not, or the reverse.
    """
    offset = zone.utcoffset(None)
    return (_EPOCH.replace(tzinfo=None) + offset + timedelta(microseconds=value_micros)).replace(tzinfo=zone)


def depth(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON `value` nests no more than `limit` arrays and objects (walked a level at a time,
    without recursion)."""
    level = [value]
    for _ in range(limit):
        level = [v for c in level if isinstance(c, (list, dict)) for v in (c.values() if isinstance(c, dict) else c)]
        if not level:
            return True
    return not any(isinstance(c, (list, dict)) for c in level)
