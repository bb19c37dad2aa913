"""The options of `delivrd stats`, `export`, `import sends` and `reconcile`; their code is `cli.insight`.

Apart from that code so that building the command line imports none of what they run (the read path, the
SendSms decoder, rich, Tencent's SDK): `cli.insight` is imported only when one of these commands runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from delivrd.cli.options import SEND_CSV_COLUMNS, add_database_options, add_settings
from delivrd.providers.tencent.constants import DEFAULT_ENDPOINT, DEFAULT_REGION
from delivrd.query.stats import GROUPS


def _later(command: str) -> Callable[[argparse.Namespace], int]:
    """A handler that imports `cli.insight` and runs its `command`."""

    def handler(args: argparse.Namespace) -> int:
        from delivrd.cli import insight

        return insight.run(getattr(insight, command), args)

    return handler


def register(subparsers: argparse._SubParsersAction) -> None:
    def window(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument("--since", help=f"only {what} at or after this ISO 8601 time (no offset: UTC)")
        p.add_argument("--until", help=f"only {what} before this ISO 8601 time (no offset: UTC)")

    p = subparsers.add_parser(
        "stats",
        help="delivery statistics as a table (the same numbers as GET /v1/stats)",
        description="Totals, success rate (delivered / (delivered + failed)) and delivery latency of the messages"
        " sent in a time range: registered sends by their SentAt, receipts with no registered send by when they"
        " arrived.",
    )
    window(p, "messages sent")
    p.add_argument("--by", choices=GROUPS, help="one row per group")
    p.add_argument("--json", action="store_true", help="print the answer as JSON, exactly as GET /v1/stats")
    add_settings(p, "no_receipt_after", "timezone")
    add_database_options(p)
    p.set_defaults(func=_later("stats_command"))

    p = subparsers.add_parser(
        "export",
        help="write reports or messages of a time range as CSV or JSON lines",
        description="reports: every stored receipt (newest first, by when delivrd received it). messages: one row"
        " per message with its state, as the statistics count them.",
    )
    p.add_argument("what", choices=("reports", "messages"))
    window(p, "items")
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="default: csv")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.add_argument(
        "--masked",
        action="store_true",
        help="phone numbers masked (138****8000) and unknown fields left out, as the viewer key sees them",
    )
    add_settings(p, "no_receipt_after")
    add_database_options(p)
    p.set_defaults(func=_later("export_command"))

    p = subparsers.add_parser(
        "import",
        help="register sends from a file (as POST /v1/messages does)",
        description="Register what was sent, so receipts have context. CSV: one row per number, with the columns "
        + ", ".join(SEND_CSV_COLUMNS)
        + " (PhoneNumber required; SentAt ISO 8601, default now). JSON lines: one"
        " SendSms call per line, as POST /v1/messages takes it. Nothing is stored if a line is bad; importing the"
        " same file twice changes nothing.",
    )
    p.add_argument("what", choices=("sends",))
    p.add_argument("file", help="the file, or - for standard input")
    p.add_argument("--format", choices=("csv", "jsonl"), help="default: from the file name (.csv, else JSON lines)")
    add_database_options(p, creates=True)
    p.set_defaults(func=_later("import_command"))

    p = subparsers.add_parser(
        "reconcile",
        help="pull missed receipts from Tencent (PullSmsSendStatus) and store them",
        description="Pulls every receipt Tencent still holds for the application (PullSmsSendStatus, which Tencent"
        " must have enabled for the account) and stores each as if it had been pushed: a receipt that was also"
        " pushed is stored once. Credentials: TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY.",
    )
    p.add_argument("--sdk-app-id", required=True, help="the SMS application's SmsSdkAppId (1400…)")
    p.add_argument("--region", default=DEFAULT_REGION, help=f"default: {DEFAULT_REGION}")
    p.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"Tencent's API endpoint (default: {DEFAULT_ENDPOINT})")
    add_database_options(p, creates=True)
    p.set_defaults(func=_later("reconcile_command"))
