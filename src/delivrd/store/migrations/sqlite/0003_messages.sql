-- Messages: one row per message (a registered send, or the (sid, mobile) of receipts with no
-- registered send), kept up to date in the same transaction as the writes that change it:
-- every group commit folds its new receipts in, register_sends folds its new sends in. The
-- statistics then read one index range, with no join at query time. Whether a message with
-- no receipt is `pending` or `no_receipt` still depends on the query (--no-receipt-after),
-- so `state` here is only `delivered`, `failed` or NULL (no outcome yet).
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    sid TEXT,
    mobile TEXT NOT NULL,
    -- the message's time: sent_at when the send is registered, else its first receipt's received_at
    at INTEGER NOT NULL,
    nationcode TEXT,
    template_id TEXT,
    sign_name TEXT,
    sent_at INTEGER,
    send_code TEXT,
    first_report_at INTEGER,
    receipts INTEGER NOT NULL DEFAULT 0,
    ok INTEGER NOT NULL DEFAULT 0,
    ko INTEGER NOT NULL DEFAULT 0,
    ok_code TEXT,
    ko_code TEXT,
    user_receive_ts INTEGER,
    state TEXT GENERATED ALWAYS AS (
        CASE WHEN ok = 1 THEN 'delivered'
             WHEN ko = 1 OR (send_code IS NOT NULL AND send_code <> 'Ok') THEN 'failed' END) VIRTUAL,
    code TEXT GENERATED ALWAYS AS (
        CASE WHEN ok = 1 THEN ok_code
             WHEN ko = 1 THEN ko_code
             WHEN send_code IS NOT NULL AND send_code <> 'Ok' THEN send_code END) VIRTUAL,
    latency_s INTEGER GENERATED ALWAYS AS (CASE WHEN ok = 1 THEN user_receive_ts - sent_at / 1000000 END) VIRTUAL,
    hour INTEGER GENERATED ALWAYS AS (at / 3600000000) VIRTUAL
);
-- receipts and sends find their message; a refused number (no sid) is one message per send
CREATE UNIQUE INDEX messages_sid_mobile ON messages (sid, mobile);
-- the statistics read a range of this index and count per hour in its order, without sorting
CREATE INDEX messages_stats ON messages (hour, state, code, latency_s, nationcode, template_id, sign_name, at);

-- backfill: every send, then every receipt folded in (as the write path does)
INSERT INTO messages (sid, mobile, at, nationcode, template_id, sign_name, sent_at, send_code)
SELECT sid, mobile, sent_at, nationcode, template_id, sign_name, sent_at, code FROM sends ORDER BY sent_at;
INSERT INTO messages (sid, mobile, at, nationcode, first_report_at, receipts, ok, ko, ok_code, ko_code,
                      user_receive_ts)
SELECT sid, mobile, min(received_at), max(nationcode), min(received_at), count(*),
    max(CASE WHEN report_status = 'SUCCESS' THEN 1 ELSE 0 END),
    max(CASE WHEN report_status = 'FAIL' THEN 1 ELSE 0 END),
    max(CASE WHEN report_status = 'SUCCESS' THEN errmsg END),
    max(CASE WHEN report_status = 'FAIL' THEN errmsg END),
    min(CASE WHEN report_status = 'SUCCESS' THEN user_receive_ts END)
FROM reports WHERE true GROUP BY sid, mobile
ON CONFLICT (sid, mobile) DO UPDATE SET
    first_report_at = excluded.first_report_at, receipts = excluded.receipts, ok = excluded.ok, ko = excluded.ko,
    ok_code = excluded.ok_code, ko_code = excluded.ko_code, user_receive_ts = excluded.user_receive_ts;
