-- The opt-out list (docs/replies-and-unsubscribes.md). optout_changes is its history, append-only, in the
-- order the changes were made (id); optouts holds each number on the list now, pointing at the change that
-- put it there (a number taken off is deleted from it). A change is stored only when it changes the status.
-- Neither table is touched by retention: an opt-out outlives the reply that made it.
CREATE TABLE optout_changes (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    nationcode TEXT NOT NULL,
    mobile TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('added', 'removed')),
    source TEXT NOT NULL CHECK (source IN ('reply', 'manual', 'import')),
    sign TEXT,
    extend TEXT,
    reply_id INTEGER,
    note TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX optout_changes_phone ON optout_changes (phone, id);
-- a reply makes at most one change
CREATE UNIQUE INDEX optout_changes_reply ON optout_changes (reply_id) WHERE reply_id IS NOT NULL;
CREATE TABLE optouts (
    phone TEXT PRIMARY KEY,
    change_id INTEGER NOT NULL UNIQUE
);
-- Replies not yet looked at for keywords: set by the column's default as the writer inserts a reply (a
-- duplicate push only counts, so it is never looked at twice), cleared in the transaction that makes its
-- change. Replies stored before this migration are looked at too, oldest first.
ALTER TABLE replies ADD COLUMN optout_pending INTEGER NOT NULL DEFAULT 1;
CREATE INDEX replies_optout_pending ON replies (id) WHERE optout_pending = 1;
-- each change is an event for forwarding (optout.added, optout.removed), in the same transaction
CREATE TRIGGER optout_events AFTER INSERT ON optout_changes BEGIN
    INSERT INTO events (type, ref, at) VALUES ('optout.' || new.action, new.id, new.at); END;
