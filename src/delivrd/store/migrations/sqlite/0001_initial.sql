-- The receiver's tables: inbox, reports, replies, rejects, counters.
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    route TEXT NOT NULL,
    peer TEXT,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    items INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    size INTEGER NOT NULL,
    body BLOB
);
CREATE INDEX inbox_received_at ON inbox (received_at);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    sid TEXT NOT NULL,
    dedup_key BLOB NOT NULL,
    nationcode TEXT,
    mobile TEXT NOT NULL,
    report_status TEXT NOT NULL,
    errmsg TEXT,
    description TEXT,
    user_receive_time TEXT,
    ext TEXT,
    extra TEXT,
    phone TEXT,
    user_receive_ts INTEGER,
    inbox_id INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    duplicates INTEGER NOT NULL DEFAULT 0
);
-- one index serves both the duplicate check and lookups by sid
CREATE UNIQUE INDEX reports_sid_key ON reports (sid, dedup_key);
CREATE INDEX reports_received_at ON reports (received_at);
-- Reports by mobile, kept out of `reports` so ingest does not update a random-keyed index
-- per report: the store copies new reports here behind ingest, in chunks sorted by key
-- (store/sqlite_mobiles.py). `bucket` is report_id >> 16, so a chunk lands in one small,
-- recent part of the B-tree instead of dirtying pages all over it.
CREATE TABLE report_mobiles (
    bucket INTEGER NOT NULL,
    mobile TEXT NOT NULL,
    report_id INTEGER NOT NULL,
    PRIMARY KEY (bucket, mobile, report_id)
) WITHOUT ROWID;
-- the highest reports.id copied into report_mobiles; reports above it are found by scan
CREATE TABLE report_mobiles_watermark (id INTEGER NOT NULL);
INSERT INTO report_mobiles_watermark (id) VALUES (0);

CREATE TABLE replies (
    id INTEGER PRIMARY KEY,
    dedup_key BLOB NOT NULL UNIQUE,
    extend TEXT,
    mobile TEXT NOT NULL,
    nationcode TEXT,
    sign TEXT,
    text TEXT,
    time INTEGER,
    extra TEXT,
    phone TEXT,
    inbox_id INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    duplicates INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX replies_mobile ON replies (mobile);

CREATE TABLE rejects (
    id INTEGER PRIMARY KEY,
    inbox_id INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    route TEXT NOT NULL,
    item_index INTEGER,
    reason TEXT NOT NULL,
    raw TEXT
);

CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
