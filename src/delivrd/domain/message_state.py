"""A message's state and the pending cut-off: each rule once, as SQL and as Python.

A message is one number of one registered send, or the receipts of one (sid, mobile) with
no registered send. What its receipts and its send's Code say decide its outcome:

- `delivered` when any receipt says SUCCESS; its code is that receipt's errmsg (the greatest
  in text order when several differ);
- else `failed` when any receipt says FAIL (code: the greatest FAIL errmsg), or when Tencent
  refused the number at send time (its Code is not "Ok"; code: that Code);
- else no outcome yet: `pending` while the message's time is at or after `pending_after`
  (the no-receipt window has not passed), `no_receipt` once it is older.

The store keeps the outcome in the `messages` table as generated columns, which the
migrations write out in SQL (they cannot import Python; tests/store/test_message_state.py
checks they hold the expressions below); the folds, the queries and the one-message
view (`query.messages.view`) take theirs from here.
"""

from __future__ import annotations

from collections.abc import Iterable

DELIVERED, FAILED, PENDING, NO_RECEIPT = "delivered", "failed", "pending", "no_receipt"
STATES = (DELIVERED, FAILED, PENDING, NO_RECEIPT)
#: the report_status values that decide an outcome
SUCCESS, FAIL = "SUCCESS", "FAIL"
#: a send's Code when Tencent accepted the number
ACCEPTED = "Ok"

# -- as SQL, over the columns of `messages` (and of `reports` for one receipt) ---------------------------------

#: the messages columns that sum up its receipts, and what one receipt says in each
RECEIPT_COLUMNS = ("ok", "ko", "ok_code", "ko_code", "user_receive_ts")
RECEIPT_SQL = (
    f"CASE WHEN report_status = '{SUCCESS}' THEN 1 ELSE 0 END",
    f"CASE WHEN report_status = '{FAIL}' THEN 1 ELSE 0 END",
    f"CASE WHEN report_status = '{SUCCESS}' THEN errmsg END",
    f"CASE WHEN report_status = '{FAIL}' THEN errmsg END",
    f"CASE WHEN report_status = '{SUCCESS}' THEN user_receive_ts END",
)
#: how the receipts of one message add up, column by column: any SUCCESS, any FAIL, the greatest codes,
#: the earliest time the handset received it
RECEIPT_AGGREGATES = ("max", "max", "max", "max", "min")
REFUSED_SQL = f"send_code IS NOT NULL AND send_code <> '{ACCEPTED}'"
#: the generated columns state (the outcome, NULL while there is none), code and latency_s
OUTCOME_SQL = f"CASE WHEN ok = 1 THEN '{DELIVERED}' WHEN ko = 1 OR ({REFUSED_SQL}) THEN '{FAILED}' END"
CODE_SQL = f"CASE WHEN ok = 1 THEN ok_code WHEN ko = 1 THEN ko_code WHEN {REFUSED_SQL} THEN send_code END"
LATENCY_SQL = "CASE WHEN ok = 1 THEN user_receive_ts - sent_at / 1000000 END"
#: true for a message recent enough that, with no outcome, it is still `pending` (bind pending_after)
RECENT_SQL = "at >= ?"
#: the state, from the stored outcome (bind pending_after)
STATE_SQL = f"CASE WHEN state IS NOT NULL THEN state WHEN {RECENT_SQL} THEN '{PENDING}' ELSE '{NO_RECEIPT}' END"


# -- as Python ------------------------------------------------------------------------------------------------


def refused(send_code: str | None) -> bool:
    """Whether Tencent refused the number at send time (no receipt will ever come)."""
    return send_code is not None and send_code != ACCEPTED


def greatest(codes: Iterable[str | None]) -> str | None:
    """The greatest code in text order, ignoring None, as SQL's max() does."""
    present = [c for c in codes if c is not None]
    return max(present) if present else None


def outcome(statuses: Iterable[tuple[str, str | None]], send_code: str | None) -> tuple[str | None, str | None]:
    """(outcome, code) of a message from its receipts' (report_status, errmsg) and its send's Code (OUTCOME_SQL,
    CODE_SQL); the outcome is None while there is none."""
    listed = list(statuses)
    if any(status == SUCCESS for status, _ in listed):
        return DELIVERED, greatest(code for status, code in listed if status == SUCCESS)
    if any(status == FAIL for status, _ in listed):
        return FAILED, greatest(code for status, code in listed if status == FAIL)
    if refused(send_code):
        return FAILED, send_code
    return None, None


def state(outcome: str | None, at: int, pending_after: int) -> str:
    """The state of a message whose time is `at` (µs) (STATE_SQL)."""
    if outcome is not None:
        return outcome
    return PENDING if at >= pending_after else NO_RECEIPT


def latency_s(user_receive_ts: int, sent_at: int) -> int:
    """Send → handset in whole seconds (LATENCY_SQL): sent_at truncated to the second, as SQL's integer division."""
    sent = sent_at // 1_000_000 if sent_at >= 0 else -(-sent_at // 1_000_000)
    return user_receive_ts - sent


def pending_after(now: int, no_receipt_after: int) -> int:
    """The moment (µs) from which a message with no receipt is still `pending`: `no_receipt_after` seconds ago."""
    return now - no_receipt_after * 1_000_000


def success_rate(delivered: int, failed: int) -> float | None:
    """Delivered among the messages with an outcome (pending and no_receipt do not count); None when none has one."""
    return delivered / (delivered + failed) if delivered + failed else None
