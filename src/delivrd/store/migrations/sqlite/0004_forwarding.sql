-- Forwarding (docs/forwarding.md): what happened, in commit order, and where it goes.
-- An event is a small row naming what it is about (`ref`: a reports, replies or messages id);
-- its body is built when it is sent, from that row as the read API shows it. Report events are
-- added by the group commit, one statement over the group's new reports (delivrd.store.sqlite.store
-- REPORT_EVENTS: a row trigger cost three times as much per report); reply events by a trigger
-- (replies are few). Both in the same transaction as the rows; a duplicate push (an upsert's
-- UPDATE, not an INSERT) makes no event.
CREATE TABLE events (
    -- AUTOINCREMENT: a seq is never used twice, even after retention empties the table
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    ref INTEGER NOT NULL,
    -- when it happened (µs): the row's received_at, a send's no-receipt deadline
    at INTEGER NOT NULL
);
-- (a trigger's body stays on its line: the migration runner splits statements at a `;` that ends a line)
CREATE TRIGGER reply_events AFTER INSERT ON replies BEGIN
    INSERT INTO events (type, ref, at) VALUES ('reply.received', new.id, new.received_at); END;

-- Where events go. `cursor_seq`: the last event handed over (delivered, filtered out, or put in
-- `deliveries` after a failed attempt); a new endpoint starts at the end. `cursor_xid` is
-- PostgreSQL's half of the position, always 0 here. The lease lets one process at a time send
-- an endpoint's events.
CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    filters TEXT,
    secret TEXT NOT NULL,
    batch INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    state_reason TEXT,
    cursor_xid INTEGER NOT NULL DEFAULT 0,
    cursor_seq INTEGER NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    failed_events INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_at INTEGER,
    last_success_at INTEGER,
    failing_since INTEGER,
    lease_owner TEXT,
    lease_until INTEGER
);
-- An endpoint's events that failed an attempt (or were replayed): tried again at next_at;
-- next_at NULL once failed for good (kept, visible, until retention or a replay).
CREATE TABLE deliveries (
    endpoint_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER,
    last_error TEXT,
    PRIMARY KEY (endpoint_id, seq)
);
CREATE INDEX deliveries_due ON deliveries (endpoint_id, next_at) WHERE next_at IS NOT NULL;
-- marks kept between runs: the no-receipt scan's progress (µs of sent_at scanned up to)
CREATE TABLE forward_marks (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
