"""The naive peer: what most teams write first. Flask + sqlite3, one transaction per request.

Durable like delivrd (WAL, synchronous=FULL: the ack follows a commit that survives
a power cut) and answering the same questions (a unique key for retries, an index to
find a phone's reports), so the comparison is about group commit and the hot path,
not about skipping fsync or indexes. It keeps no raw inbox, as such receivers don't.
Run under gunicorn (see bench/servers.py); the database path comes from
BENCH_NAIVE_DB. Each worker opens one connection and keeps it; SQLite serialises
their writes with its busy timeout.
"""

import json
import os
import sqlite3

from flask import Flask, Response, request

app = Flask(__name__)
DB = os.environ.get("BENCH_NAIVE_DB", "naive.db")
OK = '{"result":0,"errmsg":"OK"}'

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY, sid TEXT NOT NULL, nationcode TEXT, mobile TEXT NOT NULL,
    report_status TEXT NOT NULL, errmsg TEXT, description TEXT, user_receive_time TEXT,
    UNIQUE (sid, mobile, report_status, errmsg, user_receive_time)
);
CREATE INDEX IF NOT EXISTS reports_mobile ON reports (mobile)
"""


_conn: sqlite3.Connection | None = None


def db() -> sqlite3.Connection:
    """This worker's connection, opened on first use and kept (kinder to the peer than one per request)."""
    global _conn
    if _conn is None:
        _conn = sqlite3.connect(DB, timeout=30)
        _conn.execute("PRAGMA journal_mode = WAL")
        _conn.execute("PRAGMA synchronous = FULL")
        _conn.executescript(SCHEMA)
    return _conn


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/sms/callback")
def callback():
    items = json.loads(request.get_data())
    if isinstance(items, dict):
        items = [items]
    conn = db()
    with conn:  # one transaction, committed before the answer
        conn.executemany(
            "INSERT OR IGNORE INTO reports (sid, nationcode, mobile, report_status, errmsg, description,"
            " user_receive_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    i["sid"],
                    i.get("nationcode"),
                    i["mobile"],
                    i["report_status"],
                    i.get("errmsg"),
                    i.get("description"),
                    i.get("user_receive_time"),
                )
                for i in items
            ],
        )
    return Response(OK, mimetype="application/json")
