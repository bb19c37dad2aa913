-- Sends: what the business sent (one row per number of a SendSms call), so receipts have context.
-- As on SQLite, message state and statistics are computed at query time (sends LEFT JOIN
-- reports on sid and mobile, plus receipts with no registered send): the callback's write
-- path pays nothing. Not partitioned: a send is looked up by (sid, mobile) for good.
CREATE TABLE sends (
    id bigserial PRIMARY KEY,
    sid text,
    phone text NOT NULL,
    nationcode text,
    mobile text NOT NULL,
    sent_at bigint NOT NULL,
    template_id text,
    sign_name text,
    fee bigint,
    session_context text,
    code text,
    message text,
    iso_code text,
    registered_at bigint NOT NULL
);
-- a send is one (SerialNo, number); registering it again changes nothing
CREATE UNIQUE INDEX sends_sid_mobile ON sends (sid, mobile);
-- numbers Tencent refused at send time have no SerialNo: one per number and moment
CREATE UNIQUE INDEX sends_refused ON sends (mobile, sent_at) WHERE sid IS NULL;
CREATE INDEX sends_sent_at ON sends (sent_at);
CREATE INDEX sends_mobile ON sends (mobile);
-- messages join receipts to sends on (sid, mobile)
CREATE INDEX reports_sid_mobile ON reports (sid, mobile);
