-- The receiver's tables on PostgreSQL: inbox, reports, report_keys, replies, rejects, counters.
-- Times are microseconds since the epoch (bigint), as on SQLite.
--
-- inbox and reports are range-partitioned by received_at, one partition per UTC day
-- (created ahead of time by delivrd; retention drops whole days). A unique index on a
-- partitioned table must contain the partition key, and a retry of a report arrives
-- later, with another received_at; so the duplicate check lives in report_keys, an
-- ordinary table unique on (sid, dedup_key), which also counts the duplicates.
CREATE SEQUENCE inbox_id_seq AS bigint;
CREATE TABLE inbox (
    id bigint NOT NULL DEFAULT nextval('inbox_id_seq'),
    received_at bigint NOT NULL,
    route text NOT NULL,
    peer text,
    status integer NOT NULL,
    outcome text NOT NULL,
    items integer NOT NULL,
    rejected integer NOT NULL,
    size integer NOT NULL,
    body bytea,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX inbox_received_at ON inbox (received_at);

CREATE SEQUENCE reports_id_seq AS bigint;
CREATE TABLE reports (
    id bigint NOT NULL DEFAULT nextval('reports_id_seq'),
    sid text NOT NULL,
    dedup_key bytea NOT NULL,
    nationcode text,
    mobile text NOT NULL,
    report_status text NOT NULL,
    errmsg text,
    description text,
    user_receive_time text,
    ext text,
    extra text,
    phone text,
    user_receive_ts bigint,
    inbox_id bigint NOT NULL,
    received_at bigint NOT NULL,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX reports_sid ON reports (sid);
CREATE INDEX reports_mobile ON reports (mobile);
CREATE INDEX reports_received_at ON reports (received_at);

-- one row per distinct report ever stored (within retention): the database's duplicate check
CREATE TABLE report_keys (
    sid text NOT NULL,
    dedup_key bytea NOT NULL,
    report_id bigint NOT NULL,
    received_at bigint NOT NULL,
    duplicates integer NOT NULL DEFAULT 0,
    PRIMARY KEY (sid, dedup_key)
);
CREATE INDEX report_keys_received_at ON report_keys (received_at);

CREATE TABLE replies (
    id bigserial PRIMARY KEY,
    dedup_key bytea NOT NULL UNIQUE,
    extend text,
    mobile text NOT NULL,
    nationcode text,
    sign text,
    text text,
    time bigint,
    extra text,
    phone text,
    inbox_id bigint NOT NULL,
    received_at bigint NOT NULL,
    duplicates integer NOT NULL DEFAULT 0
);
CREATE INDEX replies_mobile ON replies (mobile);
CREATE INDEX replies_received_at ON replies (received_at);

CREATE TABLE rejects (
    id bigserial PRIMARY KEY,
    inbox_id bigint NOT NULL,
    received_at bigint NOT NULL,
    route text NOT NULL,
    item_index integer,
    reason text NOT NULL,
    raw text
);
CREATE INDEX rejects_received_at ON rejects (received_at);

-- each process adds to its own shard, so concurrent writers never wait on one counter row
CREATE TABLE counters (
    name text NOT NULL,
    shard integer NOT NULL,
    value bigint NOT NULL,
    PRIMARY KEY (name, shard)
);
