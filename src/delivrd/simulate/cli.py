"""`delivrd simulate` (push like Tencent), `delivrd simulate verify` (ledger vs read API), `… check` (conformance).

Each command's code (httpx, the sender, the checker) is imported when it runs: every `delivrd` command builds this
parser, `delivrd db status` included.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime

from delivrd.domain.clock import UTC8
from delivrd.option_types import counted, fraction, positive
from delivrd.providers.tencent.constants import MAX_BATCH

DESCRIPTION = """\
Push realistic status reports at a callback URL the way Tencent does: JSON arrays
of up to 100 reports; a failed push (non-2xx, non-zero result, timeout, connection
error) is tried up to 2 more times. Works against any receiver, not only delivrd.
With --ledger every acked report is written down, so that `delivrd simulate verify`
can show that none was lost or stored twice. `delivrd simulate check` runs a short
conformance series. Each subcommand has its own --help.
"""

EPILOG = """\
examples:
  delivrd simulate --url http://127.0.0.1:8080/sms/callback --count 10000 --ledger run.jsonl
  delivrd simulate --url URL --duration 60 --rate 2000 --concurrency 16 --duplicates 0.05 --malformed 0.01
  delivrd simulate verify --ledger run.jsonl --url http://127.0.0.1:8080
  delivrd simulate check --url 'https://your.host/sms/callback?token=SECRET'

exit status: run 0 when every push was acked in the end, 1 when some failed for good;
verify 0 when every ledger report is stored exactly once, 1 otherwise; check 0 when
every case passes, 1 otherwise; 2 for bad usage, or when nothing answers at the URL.
"""


def _url(text: str) -> str:
    """An http(s) URL with a host; caught here rather than as a connection error on every push."""
    import httpx

    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise argparse.ArgumentTypeError(f"not a URL: {text!r} ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise argparse.ArgumentTypeError(f"not an http:// or https:// URL: {text!r}")
    return text


def _start(text: str) -> datetime:
    """ISO 8601; without an offset it is Beijing time, like `user_receive_time`. Not in the future: no handset
    has received a message yet then."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-24T10:00:00)") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC8)
    if moment > datetime.now(UTC):
        raise argparse.ArgumentTypeError(f"{text!r} is in the future: give a time up to now (default: now)")
    return moment


def _nothing_answers(url: str, timeout: float) -> str | None:
    """Why no connection can be made to `url`'s host and port (None: one can), tried once before any push, so that
    a receiver that is not running is one line rather than every push failing the same way."""
    import socket

    import httpx

    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.host, port), timeout=timeout).close()
    except socket.gaierror as exc:
        return f"cannot resolve the host {parsed.host!r} ({exc.strerror})"
    except TimeoutError:
        return f"no connection within {timeout:g} s"
    except OSError as exc:
        return f"nothing answers at {parsed.host}:{port} ({exc.strerror.lower() if exc.strerror else exc})"
    return None


def _unreachable(command: str, url: str, timeout: float) -> bool:
    """True, said on stderr in one line, when nothing answers at `url`."""
    reason = _nothing_answers(url, timeout)
    if reason is not None:
        print(f"{command}: {reason}; is it running at {url}?", file=sys.stderr)
    return reason is not None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="push Tencent-like status callbacks at a URL; verify a ledger; check a receiver's conformance",
        usage=(
            "delivrd simulate --url URL [options]\n"
            "       delivrd simulate verify --ledger FILE --url BASE_URL [--api-key KEY]\n"
            "       delivrd simulate check --url URL"
        ),
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--url", type=_url, help="the callback URL to push to, token included (e.g. http://127.0.0.1:8080/sms/callback)"
    )
    amount = p.add_argument_group("how much, how fast")
    amount.add_argument("--count", type=positive(int), help="reports to send (default 1000 unless --duration)")
    amount.add_argument("--duration", type=positive(float), help="seconds to keep pushing")
    amount.add_argument("--rate", type=positive(float), help="reports per second (default: as fast as answered)")
    amount.add_argument("--concurrency", type=positive(int), default=8, help="pushes in flight (default 8)")
    amount.add_argument(
        "--batch",
        type=positive(int),
        default=MAX_BATCH,
        help=f"reports per push, 1–{MAX_BATCH} (default {MAX_BATCH}, Tencent's maximum)",
    )
    content = p.add_argument_group("content")
    content.add_argument(
        "--seed",
        type=int,
        help="random seed: the same seed and --start send the same reports"
        " (default: a fresh one, printed in the summary)",
    )
    content.add_argument(
        "--start",
        type=_start,
        help="the latest user_receive_time: each report reached its handset up to 30 s before it; ISO 8601, Beijing"
        " time unless an offset is given, not in the future (default: now)",
    )
    content.add_argument("--success-ratio", type=fraction, default=0.95, help="share of SUCCESS (default 0.95)")
    content.add_argument("--ext-ratio", type=fraction, default=0.0, help="share of reports with ext (default 0)")
    faults = p.add_argument_group("faults injected on purpose")
    faults.add_argument(
        "--duplicates",
        type=fraction,
        default=0.0,
        help="share of acked pushes sent again, as when Tencent missed the ack",
    )
    faults.add_argument(
        "--malformed",
        type=fraction,
        default=0.0,
        help="share of pushes that are malformed: cut-off JSON, the wrong shape, or bad items beside good ones",
    )
    faults.add_argument(
        "--oversized",
        type=fraction,
        default=0.0,
        help="share of pushes with more than Tencent's 100 reports (see --oversize)",
    )
    faults.add_argument("--oversize", type=positive(int), default=1000, help="reports in an oversized push")
    delivery = p.add_argument_group("delivery")
    delivery.add_argument("--retries", type=int, default=2, help="more tries after a failed push (Tencent: 2)")
    delivery.add_argument("--retry-delay", type=float, default=1.0, help="seconds between tries (default 1)")
    delivery.add_argument("--timeout", type=positive(float), default=5.0, help="seconds to wait for an answer")
    output = p.add_argument_group("output")
    output.add_argument(
        "--ledger",
        metavar="FILE",
        help="append every acked report as a JSON line (sid, mobile, report_status, nationcode, errmsg)",
    )
    output.add_argument("--json", metavar="FILE", help="write the final summary as JSON")
    p.set_defaults(func=run, parser=p)

    commands = p.add_subparsers(title="subcommands", metavar="SUBCOMMAND", prog="delivrd simulate")
    v = commands.add_parser(
        "verify",
        help="check through the read API that every report in a ledger is stored exactly once",
        description=(
            "Read the receiver's GET /v1/reports and compare with a ledger written by `delivrd simulate --ledger`: "
            "prints the reports that are missing (acked but not stored) or doubled (stored more than once)."
        ),
    )
    v.add_argument("--ledger", metavar="FILE", required=True, help="the ledger written by a run")
    v.add_argument("--url", type=_url, required=True, help="base URL of the read API, e.g. http://127.0.0.1:8080")
    v.add_argument("--api-key", help="sent as Authorization: Bearer (delivrd serve --api-key)")
    v.add_argument(
        "--by-sid",
        action="store_true",
        help="look each sid up (GET /v1/reports?sid=) instead of reading every report; faster when the"
        " database holds much more than the ledger",
    )
    v.add_argument("--show", type=int, default=20, help="how many missing/doubled reports to list (default 20)")
    v.add_argument("--json", metavar="FILE", help="write the verdict as JSON")
    v.set_defaults(func=verify)

    c = commands.add_parser(
        "check",
        help="send a short scripted series of pushes and say, case by case, if the receiver answers as Tencent expects",
        description=(
            "Conformance of any callback receiver: the spec's sample, a full batch of 100, a duplicate, a lone object, "
            "an unknown receipt code, extra fields, a body that is not JSON, an empty array. Each case is PASS or "
            "FAIL with the reason. Note: it stores real-looking test reports in the receiver."
        ),
    )
    c.add_argument("--url", type=_url, required=True, help="the callback URL, token included")
    c.add_argument("--timeout", type=positive(float), default=5.0, help="seconds to wait for each answer")
    c.set_defaults(func=check)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from delivrd.simulate import ledger as ledgers
    from delivrd.simulate.content import Reports
    from delivrd.simulate.progress import Progress, print_summary
    from delivrd.simulate.sender import Plan, Stats, wrong_url_hint
    from delivrd.simulate.sender import run as run_plan

    if not args.url:
        args.parser.error("--url is required (the callback URL to push to)")
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    start = args.start or datetime.now(UTC)
    try:
        plan = Plan(
            url=args.url,
            count=args.count if args.count or args.duration else 1000,
            duration=args.duration,
            rate=args.rate,
            concurrency=args.concurrency,
            batch=args.batch,
            duplicates=args.duplicates,
            malformed=args.malformed,
            oversized=args.oversized,
            oversize=args.oversize,
            retries=args.retries,
            retry_delay=args.retry_delay,
            timeout=args.timeout,
            seed=seed,
        )
        reports = Reports(seed, start=start, success_ratio=args.success_ratio, ext_ratio=args.ext_ratio)
    except ValueError as exc:
        args.parser.error(str(exc))
    if _unreachable("delivrd simulate", args.url, args.timeout):
        return 2
    ledger = ledgers.Ledger(args.ledger) if args.ledger else None
    progress = Progress()
    stats = Stats()
    try:
        asyncio.run(run_plan(plan, reports, ledger=ledger, stats=stats, on_tick=progress.update))
    except KeyboardInterrupt:
        print("interrupted: the summary covers what was sent so far", file=sys.stderr)
    finally:
        progress.close()
        if ledger is not None:
            ledger.close()
    summary = stats.summary(url=args.url, seed=seed, start=start.astimezone(UTC8).strftime("%Y-%m-%dT%H:%M:%S%z"))
    if ledger is not None:
        summary["ledger"] = {"file": args.ledger, "lines": ledger.lines}
    print_summary(summary)
    print(f"replay: --seed {seed} --start {summary['start']}")
    hint = wrong_url_hint(args.url, stats.answers)
    if hint is not None:
        print(f"delivrd simulate: {hint}", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(summary, out, indent=2, ensure_ascii=False)
    return 1 if stats.pushes_failed else 0


def verify(args: argparse.Namespace) -> int:
    import asyncio

    from delivrd.simulate import ledger as ledgers
    from delivrd.simulate.verify import ReadError
    from delivrd.simulate.verify import verify as verify_ledger

    try:
        entries = ledgers.read(args.ledger)
    except (OSError, ValueError) as exc:
        print(f"delivrd simulate verify: {exc}", file=sys.stderr)
        return 2
    if _unreachable("delivrd simulate verify", args.url, 5.0):
        return 2
    try:
        verdict = asyncio.run(verify_ledger(entries, args.url, api_key=args.api_key, by_sid=args.by_sid))
    except ReadError as exc:
        print(f"delivrd simulate verify: {exc}", file=sys.stderr)
        return 2
    print(f"ledger: {counted(verdict.expected, 'acked report')} ({counted(len(entries), 'line')}) in {args.ledger}")
    print(
        f"stored: {verdict.expected - len(verdict.missing)} found, {len(verdict.missing)} missing, "
        f"{len(verdict.doubled)} doubled ({counted(verdict.read, 'report')} read from {args.url})"
    )
    for entry in verdict.missing[: args.show]:
        print(f"missing  sid={entry.sid} mobile={entry.mobile} report_status={entry.report_status}")
    for entry, stored in list(verdict.doubled.items())[: args.show]:
        print(f"doubled  sid={entry.sid} mobile={entry.mobile} report_status={entry.report_status} stored {stored}×")
    print("OK: every acked report is stored exactly once" if verdict.ok else "FAIL")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(verdict.as_dict(), out, indent=2, ensure_ascii=False)
    return 0 if verdict.ok else 1


def check(args: argparse.Namespace) -> int:
    from collections import Counter

    from delivrd.simulate import check as conformance
    from delivrd.simulate.sender import wrong_url_hint

    if _unreachable("delivrd simulate check", args.url, args.timeout):
        return 2
    outcomes = conformance.check(args.url, timeout=args.timeout)
    width = max(len(o.case.name) for o in outcomes)
    for o in outcomes:
        status = "---" if o.status is None else str(o.status)
        answer = o.answer if len(o.answer) <= 60 else o.answer[:59] + "…"
        line = f"{'PASS' if o.passed else 'FAIL'}  {o.case.name:{width}}  {status}  {o.ms:7.1f} ms  {answer}"
        print(line.rstrip())
        if not o.passed:
            print(f"      {' ' * width}  {o.reason} (sent: {o.case.what})")
    failed = sum(not o.passed for o in outcomes)
    print(f"{counted(len(outcomes), 'case')}: {len(outcomes) - failed} passed, {failed} failed")
    hint = wrong_url_hint(args.url, Counter(str(o.status) for o in outcomes))
    if hint is not None:
        print(f"delivrd simulate check: {hint}", file=sys.stderr)
    return 1 if failed else 0
