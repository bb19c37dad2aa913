-- Messages: one row per message (a registered send, or the (sid, mobile) of receipts with no
-- registered send), kept up to date in the same statement as the writes that change it:
-- every group commit folds its new receipts in, register_sends folds its new sends in. The
-- statistics then read one table (or index) range, with no join at query time. Whether a
-- message with no receipt is `pending` or `no_receipt` still depends on the query
-- (--no-receipt-after), so `state` here is only `delivered`, `failed` or NULL (no outcome yet).
-- Not partitioned, like sends: a message is looked up by (sid, mobile) for good.
CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    sid text,
    mobile text NOT NULL,
    -- the message's time: sent_at when the send is registered, else its first receipt's received_at
    at bigint NOT NULL,
    nationcode text,
    template_id text,
    sign_name text,
    sent_at bigint,
    send_code text,
    first_report_at bigint,
    receipts integer NOT NULL DEFAULT 0,
    ok integer NOT NULL DEFAULT 0,
    ko integer NOT NULL DEFAULT 0,
    ok_code text,
    ko_code text,
    user_receive_ts bigint,
    state text GENERATED ALWAYS AS (
        CASE WHEN ok = 1 THEN 'delivered'
             WHEN ko = 1 OR (send_code IS NOT NULL AND send_code <> 'Ok') THEN 'failed' END) STORED,
    code text GENERATED ALWAYS AS (
        CASE WHEN ok = 1 THEN ok_code
             WHEN ko = 1 THEN ko_code
             WHEN send_code IS NOT NULL AND send_code <> 'Ok' THEN send_code END) STORED,
    latency_s bigint GENERATED ALWAYS AS (CASE WHEN ok = 1 THEN user_receive_ts - sent_at / 1000000 END) STORED,
    hour bigint GENERATED ALWAYS AS (at / 3600000000) STORED
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
FROM reports GROUP BY sid, mobile
ON CONFLICT (sid, mobile) DO UPDATE SET
    first_report_at = excluded.first_report_at, receipts = excluded.receipts, ok = excluded.ok, ko = excluded.ko,
    ok_code = excluded.ok_code, ko_code = excluded.ko_code, user_receive_ts = excluded.user_receive_ts;
-- statistics no longer join receipts to sends
DROP INDEX reports_sid_mobile;
ANALYZE messages;
