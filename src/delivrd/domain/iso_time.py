"""ISO 8601 text from a caller (`since`, `until`) to delivrd's time: shared by the read API and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from delivrd.domain import storable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadTime(ValueError):
    """A time the caller must fix; the message names the parameter and shows what is taken."""


def parse_time(name: str, text: str) -> int:
    """ISO 8601 (date, or date and time; no offset means UTC) → microseconds since the epoch, exactly (no float),
    within the times the API can show (`storable.micros`): anything else is the caller's mistake."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadTime(f"{name} must be an ISO 8601 date or time, e.g. 2026-11-24T08:00:00Z; got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    micros = (moment - _EPOCH) // timedelta(microseconds=1)  # aware arithmetic: no OverflowError near year 1 or 9999
    if not storable.micros(micros):
        raise BadTime(
            f"{name} must be between {storable.moment(storable.FIRST_MICRO).isoformat()} and"
            f" {storable.moment(storable.LAST_MICRO).isoformat()} in UTC; got {text!r}"
        )
    return micros
