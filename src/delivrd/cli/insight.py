"""`delivrd stats`, `export`, `import sends` and `reconcile`: the insight API's numbers on the terminal.

Each opens the store itself (--db / --database-url) and calls the same code as the
HTTP routes, so `delivrd stats` and `GET /v1/stats` give the same numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from delivrd.cli.options import SEND_CSV_COLUMNS
from delivrd.domain import clock, masking, message_state, zones
from delivrd.domain.iso_time import parse_time
from delivrd.domain.push import CALLBACK, Push
from delivrd.option_types import counted
from delivrd.providers.tencent import decode as tencent
from delivrd.query import messages, models, stats
from delivrd.query.category import category as message_category
from delivrd.query.models import iso_utc
from delivrd.store import Insight, Reader, ReportQuery, Store, StoreError, open_store
from delivrd.store.base import MessageQuery, Send

#: sends registered per transaction by `import sends`
IMPORT_CHUNK = 5000


class Failed(Exception):
    """A command cannot go on; the message is printed as one line."""


def run(command: Any, args: argparse.Namespace) -> int:
    """`command` to its end; what stops it is one line on standard error and exit status 2."""
    try:
        return asyncio.run(command(args))
    except (Failed, StoreError, ValueError) as exc:
        print(f"delivrd: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


async def _open(args: argparse.Namespace, *, create: bool = False) -> Store:
    if not args.database_url and not create and not Path(args.db).exists():
        raise Failed(f"no database at {args.db} (give --db or DELIVRD_DB)")
    store = open_store(args.db, args.database_url)
    await store.open()
    return store


def _window(args: argparse.Namespace) -> tuple[int | None, int | None]:
    since = parse_time("--since", args.since) if args.since else None
    until = parse_time("--until", args.until) if args.until else None
    if since is not None and until is not None and since >= until:
        raise Failed("--since must be before --until")
    return since, until


# -- stats -------------------------------------------------------------------------------------


async def stats_command(args: argparse.Namespace) -> int:
    since, until = _window(args)
    store = await _open(args)
    try:
        answer = await stats.compute(
            store, since, until, args.by, no_receipt_after=args.no_receipt_after, tz=zones.zone(args.timezone)
        )
    finally:
        await store.close()
    if args.json:
        sys.stdout.write(msgspec.json.encode(answer).decode() + "\n")
    else:
        print_stats(answer, args.by)
    return 0


def print_stats(answer: stats.Stats, by: str | None, file: IO[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    span = f"{answer.since or 'the beginning'} to {answer.until or 'now'}"
    table = Table(title=f"Messages sent from {span}", title_justify="left")
    table.add_column(by or "", style="bold")
    for name in ("total", "delivered", "failed", "pending", "no_receipt", "success", "p50", "p90", "p99"):
        table.add_column(name, justify="right")

    def cells(row: stats.Group | stats.Stats) -> list[str]:
        rate = "–" if row.success_rate is None else f"{row.success_rate:.1%}"
        latency = [_seconds(v) for v in (row.latency_ms.p50, row.latency_ms.p90, row.latency_ms.p99)]
        return [
            str(row.total),
            str(row.delivered),
            str(row.failed),
            str(row.pending),
            str(row.no_receipt),
            rate,
            *latency,
        ]

    for group in answer.groups:
        table.add_row("(none)" if group.key is None else str(group.key), *cells(group))
    table.add_row("all", *cells(answer), style="bold" if answer.groups else None, end_section=True)
    out = file or sys.stdout
    Console(file=out, width=None if out.isatty() else 120).print(table)
    print("latency: send → handset (user_receive_time), where the send is registered", file=file)


def _seconds(ms: int | None) -> str:
    if ms is None:
        return "–"
    s = ms // 1000
    return f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h"


# -- export ------------------------------------------------------------------------------------


#: a text cell starting with one of these is a formula to a spreadsheet (`=1+2`, `@SUM(…)`, `+cmd|…`, `-2+3`,
#: and tab or CR, which some strip before reading one)
FORMULA_STARTS = ("=", "@", "+", "-", "\t", "\r")
#: …except an E.164 phone number, "+" and digits only: never a formula, so kept as received
E164 = re.compile(r"\+[0-9]+")


def csv_cell(value: Any) -> Any:
    """`value` as a CSV cell that a spreadsheet shows and never runs: text that would start a formula gets a
    single quote in front (OWASP's advice against CSV injection); so does text that starts with one already, so
    that removing one leading quote from every cell that has one gives back exactly what was stored. Numbers
    and E.164 numbers are kept as they are."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, "'")) and not E164.fullmatch(value):
        return "'" + value
    return value


REPORT_FIELDS = (
    "id",
    "sid",
    "nationcode",
    "mobile",
    "phone",
    "report_status",
    "errmsg",
    "description",
    "user_receive_time",
    "user_receive_at",
    "ext",
    "extra",
    "received_at",
    "duplicates",
)
MESSAGE_FIELDS = (
    "sid",
    "nationcode",
    "mobile",
    "state",
    "code",
    "category",
    "template_id",
    "sign_name",
    "sent_at",
    "first_report_at",
    "receipts",
    "user_receive_at",
    "latency_ms",
)


async def _reports(store: Reader, since: int | None, until: int | None) -> AsyncIterator[dict[str, Any]]:
    cursor = None
    while True:
        page = await store.reports(ReportQuery(since=since, until=until, limit=1000, before_id=cursor))
        for stored in page.items:
            report = models.report(stored)
            row = msgspec.structs.asdict(report)
            row["extra"] = None if report.extra is None else msgspec.json.encode(report.extra).decode()
            yield row
        if page.next_before_id is None:
            return
        cursor = page.next_before_id


async def _messages(store: Insight, since: int | None, until: int | None, window: int) -> AsyncIterator[dict[str, Any]]:
    pending_after = message_state.pending_after(clock.now_micros(), window)
    query = MessageQuery(since=since, until=until, pending_after=pending_after)
    async for chunk in store.messages(query):
        for m in chunk:
            category = message_category(m.state, m.code)
            yield {
                "sid": m.sid,
                "nationcode": m.nationcode,
                "mobile": m.mobile,
                "state": m.state,
                "code": m.code,
                "category": category,
                "template_id": m.template_id,
                "sign_name": m.sign_name,
                "sent_at": None if m.sent_at is None else iso_utc(m.sent_at),
                "first_report_at": None if m.first_report_at is None else iso_utc(m.first_report_at),
                "receipts": m.receipts,
                "user_receive_at": models.iso_utc8(m.user_receive_ts),
                "latency_ms": None if m.latency_s is None else m.latency_s * 1000,
            }


async def export_command(args: argparse.Namespace) -> int:
    since, until = _window(args)
    store = await _open(args)
    try:
        out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    except OSError as exc:
        await store.close()
        raise Failed(f"cannot write {args.output}: {exc.strerror}") from None
    count = 0
    fields: tuple[str, ...]
    try:
        if args.what == "reports":
            rows, fields = _reports(store, since, until), REPORT_FIELDS
        else:
            rows, fields = _messages(store, since, until, args.no_receipt_after), MESSAGE_FIELDS
        writer = csv.DictWriter(out, fields, extrasaction="ignore") if args.format == "csv" else None
        if writer is not None:
            writer.writeheader()
        async for stored in rows:
            row = masking.for_viewer(stored) if args.masked else stored
            if writer is not None:
                writer.writerow({name: csv_cell(value) for name, value in row.items()})
            else:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    finally:
        await store.close()
        if args.output:
            out.close()
    print(f"exported {counted(count, args.what.removesuffix('s'))}", file=sys.stderr)
    return 0


# -- import sends ------------------------------------------------------------------------------


def _lines(args: argparse.Namespace) -> tuple[str, Iterator[tuple[int, Any]]]:
    fmt = args.format or ("csv" if args.file.lower().endswith(".csv") else "jsonl")
    try:
        stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise Failed(f"cannot read {args.file}: {exc.strerror}") from None
    if fmt == "csv":
        reader = csv.DictReader(stream)
        missing = {"PhoneNumber"} - set(reader.fieldnames or ())
        if missing:
            raise Failed(f"{args.file}: the CSV header must name PhoneNumber (columns: {', '.join(SEND_CSV_COLUMNS)})")
        return fmt, ((reader.line_num, row) for row in reader)
    return fmt, ((n, line) for n, line in enumerate(stream, 1) if line.strip())


def _csv_call(row: dict[str, str]) -> messages.SendSmsCall:
    value = {k: (v.strip() or None) if isinstance(v, str) else None for k, v in row.items() if k}
    fee = value.get("Fee")
    if fee is not None and not fee.isdigit():
        raise messages.SendError(f"Fee must be a whole number; got {fee!r}")
    status = messages.SendStatus(
        PhoneNumber=value.get("PhoneNumber") or "",
        SerialNo=value.get("SerialNo"),
        Fee=None if fee is None else int(fee),
        SessionContext=value.get("SessionContext"),
        Code=value.get("Code"),
        Message=value.get("Message"),
        IsoCode=value.get("IsoCode"),
    )
    return messages.SendSmsCall(
        SendStatusSet=[status],
        TemplateId=value.get("TemplateId"),
        SignName=value.get("SignName"),
        SentAt=value.get("SentAt"),
    )


async def import_command(args: argparse.Namespace) -> int:
    fmt, lines = _lines(args)
    now = clock.now_micros()
    sends: list[Send] = []
    errors: list[str] = []
    for number, line in lines:
        try:
            calls = [_csv_call(line)] if fmt == "csv" else messages.decode_calls(line.encode())
            sends += [send for call in calls for send in messages.sends_of(call, now)]
        except messages.SendError as exc:
            errors.append(f"{args.file}:{number}: {exc}")
    if errors:
        shown = "\n".join(errors[:20]) + (f"\n… and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise Failed(f"nothing imported, {counted(len(errors), 'bad line')}:\n{shown}")
    store = await _open(args, create=True)
    new = 0
    try:
        for start in range(0, len(sends), IMPORT_CHUNK):
            new += await store.register_sends(sends[start : start + IMPORT_CHUNK])
    finally:
        await store.close()
    print(f"registered {counted(new, 'new send')}, {len(sends) - new} already known")
    return 0


# -- reconcile ---------------------------------------------------------------------------------


async def reconcile_command(args: argparse.Namespace) -> int:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    from delivrd.providers.tencent import sdk as tencent_sdk

    try:
        sms = tencent_sdk.client(args.endpoint, args.region)
    except tencent_sdk.CredentialsMissing as exc:
        raise Failed(str(exc)) from None
    batches = tencent_sdk.pull_receipts(sms, args.sdk_app_id)

    async def pull() -> list[dict[str, Any]] | None:
        try:
            return await asyncio.to_thread(next, batches, None)
        except tencent_sdk.Unreachable as exc:
            raise Failed(f"could not reach Tencent at {args.endpoint}: {exc}") from None
        except TencentCloudSDKException as exc:
            raise Failed(f"Tencent refused PullSmsSendStatus: {exc.code}: {exc.message}") from None

    batch = await pull()  # Tencent first: a call that fails leaves no new database behind
    store = await _open(args, create=True)
    pulled = quarantined = 0
    try:
        while batch is not None:
            body = json.dumps(batch, ensure_ascii=False).encode()
            push = Push.decoded(CALLBACK, clock.now_micros(), "reconcile", body, tencent.parse_reports(body))
            await store.write([push])
            pulled += len(batch)
            quarantined += push.rejected
            batch = await pull()
    finally:
        await store.close()
    print(
        f"pulled {counted(pulled, 'receipt')} from Tencent and stored them ({quarantined} quarantined);"
        " any already pushed by callback were counted as duplicates, not stored twice"
    )
    return 0
