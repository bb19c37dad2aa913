"""What several command modules share: the options --db/--database-url, --retention-days, --no-receipt-after,
and the columns `delivrd import sends` reads (its options name them, its code reads them).

Apart from the commands so that each command module imports this one and none imports another.
"""

from __future__ import annotations

import argparse
import os

from delivrd.cli.arguments import duration, positive
from delivrd.config import Settings

DEFAULTS = Settings()
#: the columns of a CSV of sends: SendSms's SendStatusSet fields, then the call's
SEND_CSV_COLUMNS = ("SerialNo", "PhoneNumber", "Fee", "SessionContext", "Code", "Message", "IsoCode", "TemplateId",
                    "SignName", "SentAt")  # fmt: skip


def env(name: str, default: object) -> object:
    return os.environ.get(f"DELIVRD_{name.upper()}", default)


def add_retention_option(p: argparse.ArgumentParser, required: bool = False) -> None:
    default = env("retention_days", None)
    p.add_argument(
        "--retention-days",
        type=positive(int),
        default=default,
        required=required and default is None,
        help="remove reports, replies, rejects, inbox bodies (and sends, by sent_at) older than this many days"
        " (SQLite: rows, in small batches; PostgreSQL: whole day partitions) [DELIVRD_RETENTION_DAYS]",
    )


def add_no_receipt_after(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-receipt-after",
        type=duration,
        default=env("no_receipt_after", "72h"),
        help="a send with no receipt this long after it was sent counts as no_receipt rather than pending;"
        " accepts 90m, 72h, 3d [DELIVRD_NO_RECEIPT_AFTER]",
    )


def add_database_options(p: argparse.ArgumentParser) -> None:
    """--db and --database-url, shared by every command that opens the store."""
    p.add_argument("--db", default=env("db", DEFAULTS.db), help="SQLite database file, created if missing [DELIVRD_DB]")
    p.add_argument(
        "--database-url",
        default=env("database_url", None),
        help="PostgreSQL URL instead of SQLite, postgresql://user@host/db [DELIVRD_DATABASE_URL]",
    )
