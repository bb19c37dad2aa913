-- Personal data (docs/personal-data.md): the shorter life of raw inbox bodies, and finding the bodies an erasure
-- must mask without reading the whole inbox.
-- Inbox bodies received before `before` (microseconds) have been dropped (--inbox-retention-days): each run
-- drops the bodies from here to its cutoff, never walking the rows done before.
CREATE TABLE inbox_bodies_dropped (before bigint NOT NULL);
INSERT INTO inbox_bodies_dropped (before) VALUES (0);
-- Bodies that were not read as items (not JSON, cut short, refused by the store, stored unauthenticated by earlier
-- versions) may hold a number no report, reply or reject row points to; an erasure searches these. Partial: the
-- pushes read as items (nearly all) add nothing to it on the write path.
CREATE INDEX inbox_unread ON inbox (received_at) WHERE outcome NOT IN ('stored', 'partial', 'quarantined');
