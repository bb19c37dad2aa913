-- Sends: what the business sent (one row per number of a SendSms call), so receipts have context.
-- Message state and statistics are computed at query time as sends LEFT JOIN reports on
-- (sid, mobile), plus receipts that have no registered send: nothing is added to the
-- callback's write path (no trigger, no extra index on reports).
CREATE TABLE sends (
    id INTEGER PRIMARY KEY,
    sid TEXT,
    phone TEXT NOT NULL,
    nationcode TEXT,
    mobile TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    template_id TEXT,
    sign_name TEXT,
    fee INTEGER,
    session_context TEXT,
    code TEXT,
    message TEXT,
    iso_code TEXT,
    registered_at INTEGER NOT NULL
);
-- a send is one (SerialNo, number); registering it again changes nothing
CREATE UNIQUE INDEX sends_sid_mobile ON sends (sid, mobile);
-- numbers Tencent refused at send time have no SerialNo: one per number and moment
CREATE UNIQUE INDEX sends_refused ON sends (mobile, sent_at) WHERE sid IS NULL;
CREATE INDEX sends_sent_at ON sends (sent_at);
CREATE INDEX sends_mobile ON sends (mobile);
