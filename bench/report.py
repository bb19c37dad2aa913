"""Turn runs into rows, ratios and target verdicts; show them as a table (rich) and JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from bench.servers import CpuTimes, Server
from bench.wrk import Load

#: The design doc's targets (docs/performance.md explains each).
BATCH1_VS_CEILING = 0.5
BATCH100_REPORTS_PER_S = 200_000
BATCH100_VS_NAIVE = 4.0
P99_MS = 10.0
#: RSS is "flat" when the end of the sustained run is within this of its start (after warm-up).
FLAT_MB, FLAT_SHARE = 16.0, 0.10


def console() -> Console:
    """Wide enough for the table even when the output is a file or a pipe."""
    con = Console(highlight=False)
    return con if con.is_terminal else Console(highlight=False, width=150)


def mb(rss: int) -> float:
    return round(rss / 2**20, 1)


def load(load: Load) -> dict[str, Any]:
    lat = load.latency_us
    return {
        "seconds": round(load.seconds, 2),
        "requests": load.requests,
        "acked_requests": load.acked,
        "not_acked": load.failed,
        "errors": load.errors,
        "requests_per_s": round(load.requests_per_s, 1),
        "reports_per_s": round(load.reports_per_s, 1),
        "p50_ms": round(lat["p50"] / 1000, 2),
        "p90_ms": round(lat["p90"] / 1000, 2),
        "p99_ms": round(lat["p99"] / 1000, 2),
        "max_ms": round(lat["max"] / 1000, 2),
    }


def row(server: Server, result: Load, peak_rss: int, cpu: CpuTimes, database: float | None = None) -> dict[str, Any]:
    """One measured run; cpu_us_per_request is the server's own CPU time (process tree, user + system)
    per answered request: what a request costs, which moves less with other load than req/s does.
    cpu_us_per_request_main_thread is the part spent on the processes' main threads (the event loop);
    db_cpu_us_per_request, for delivrd on PostgreSQL, the CPU time of its database sessions' backends."""
    requests = max(result.requests, 1)
    return {
        **({} if database is None else {"db_cpu_us_per_request": round(database * 1e6 / requests, 1)}),
        "server": server.name,
        "about": server.about,
        "batch": result.batch,
        **load(result),
        "peak_rss_mb": mb(peak_rss),
        "cpu_us_per_request": round(cpu.total * 1e6 / requests, 1),
        "cpu_us_per_request_main_thread": round(cpu.main_thread * 1e6 / requests, 1),
        "core_busy_pct": round(cpu.total * 100 / result.seconds, 1),
    }


def rss_trend(series: list[tuple[float, float]]) -> dict[str, Any]:
    """Start (after the first tenth of the run, i.e. warm-up), peak and end RSS, and whether it stayed flat."""
    values = [rss for _, rss in series]
    start = values[min(len(values) - 1, max(1, len(values) // 10))]
    end, peak = values[-1], max(values)
    flat = end - start <= max(FLAT_MB, FLAT_SHARE * start)
    return {"rss_start_mb": start, "rss_peak_mb": peak, "rss_end_mb": end, "rss_flat": flat, "rss_series_mb": series}


def cpu_pressure() -> float | None:
    """The machine's CPU stall share over the last 10 s (Linux PSI), to judge how noisy a row is."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split()[1].removeprefix("avg10="))
    except (OSError, ValueError, IndexError):
        return None


def best_rounds(rounds: list[dict]) -> list[dict]:
    """Per server and batch, the round with the highest req/s: other load on the machine only slows runs down."""
    picked: dict[tuple[str, int], list[dict]] = {}
    for r in rounds:
        picked.setdefault((r["server"], r["batch"]), []).append(r)
    return [
        {**max(group, key=lambda r: r["requests_per_s"]), "rounds_req_per_s": [r["requests_per_s"] for r in group]}
        for group in picked.values()
    ]


def _find(rows: list[dict], server: str, batch: int) -> dict | None:
    return next((r for r in rows if r["server"] == server and r["batch"] == batch), None)


def add_ratios(result: dict) -> None:
    """delivrd/ceiling and delivrd/naive per row, and the verdict on each target."""
    rows = result["rows"]
    for r in rows:
        ceiling, naive = _find(rows, "ceiling", r["batch"]), _find(rows, "naive", r["batch"])
        if r["server"] != "ceiling" and ceiling and ceiling["requests_per_s"]:
            r["vs_ceiling"] = round(r["requests_per_s"] / ceiling["requests_per_s"], 3)
        if r["server"].startswith("delivrd") and naive and naive["reports_per_s"]:
            r["vs_naive"] = round(r["reports_per_s"] / naive["reports_per_s"], 2)
    targets = []
    one, hundred = _find(rows, "delivrd-sqlite", 1), _find(rows, "delivrd-sqlite", 100)
    if one and "vs_ceiling" in one:
        targets.append(_target("batch 1: delivrd ≥ 0.5 × ceiling req/s", one["vs_ceiling"], BATCH1_VS_CEILING))
    if hundred:
        targets.append(_target("batch 100: ≥ 200,000 reports/s", hundred["reports_per_s"], BATCH100_REPORTS_PER_S))
        if "vs_naive" in hundred:
            targets.append(_target("batch 100: ≥ 4 × naive reports/s", hundred["vs_naive"], BATCH100_VS_NAIVE))
    if "latency" in result:
        p99 = result["latency"]["p99_ms"]
        targets.append(
            {"target": "p99 ≤ 10 ms at half the saturating rate", "value": p99, "goal": P99_MS, "met": p99 <= P99_MS}
        )
    if "sustained" in result:
        s = result["sustained"]
        targets.append(
            {
                "target": "RSS flat under sustained load",
                "value": f"{s['rss_start_mb']} → {s['rss_end_mb']} MB",
                "goal": f"growth ≤ max({FLAT_MB:g} MB, {FLAT_SHARE:.0%})",
                "met": s["rss_flat"],
            }
        )
    result["targets"] = targets


def _target(name: str, value: float, goal: float) -> dict[str, Any]:
    return {"target": name, "value": value, "goal": goal, "met": value >= goal}


def one_line(r: dict) -> str:
    check = f", stored {r['check']['stored_reports']:,} ≥ acked {r['check']['acked_reports']:,}" if "check" in r else ""
    return (
        f"{r['requests_per_s']:,.0f} req/s, {r['reports_per_s']:,.0f} reports/s, p50 {r['p50_ms']} ms, "
        f"p99 {r['p99_ms']} ms, peak RSS {r['peak_rss_mb']} MB, not acked {r['not_acked']}{check}"
    )


def latency_line(lat: dict) -> str:
    return (
        f"batch 1 offered {lat['offered_rps']:,.0f} req/s, achieved {lat['requests_per_s']:,.0f}: "
        f"p50 {lat['p50_ms']} ms, p90 {lat['p90_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms"
    )


def cpu_cell(r: dict) -> str:
    """`total (main thread)` CPU µs per request; results written before the split have only the total."""
    main = r.get("cpu_us_per_request_main_thread")
    return f"{r.get('cpu_us_per_request', 0):,.0f}" + ("" if main is None else f" ({main:,.0f})")


def db_cpu_cell(r: dict) -> str:
    """The database backends' CPU µs per request, for delivrd on PostgreSQL; empty for the others."""
    return "" if r.get("db_cpu_us_per_request") is None else f"{r['db_cpu_us_per_request']:,.0f}"


def show(con: Console, result: dict) -> None:
    table = Table(title=f"delivrd benchmark — {result['command']}")
    for name, justify in (
        ("server", "left"),
        ("batch", "right"),
        ("req/s", "right"),
        ("reports/s", "right"),
        ("p50 ms", "right"),
        ("p99 ms", "right"),
        ("peak RSS MB", "right"),
        ("cpu µs/req (loop)", "right"),
        ("db cpu µs/req", "right"),
        ("vs ceiling", "right"),
        ("vs naive", "right"),
        ("stored check", "left"),
        ("cpu stall %", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in result["rows"]:
        check = r.get("check")
        table.add_row(
            r["server"],
            str(r["batch"]),
            f"{r['requests_per_s']:,.0f}",
            f"{r['reports_per_s']:,.0f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            f"{r['peak_rss_mb']:.0f}",
            cpu_cell(r),
            db_cpu_cell(r),
            f"{r['vs_ceiling']:.2f}×" if "vs_ceiling" in r else "",
            f"{r['vs_naive']:.1f}×" if "vs_naive" in r else "",
            f"ok, +{check['unacked_but_stored']} in flight" if check else "",
            "" if r.get("cpu_pressure_avg10") is None else f"{r['cpu_pressure_avg10']:.0f}",
        )
    con.print(table)
    con.print(
        "Each row is the best of its rounds (all rounds are in the JSON). cpu µs/req: the server's CPU time"
        " per answered request, in brackets the part on the main thread (the event loop; delivrd's SQLite"
        " writer is another thread). db cpu µs/req: for delivrd on PostgreSQL, the CPU time of the database"
        " backends serving its sessions, per request. cpu stall %: the machine's CPU pressure (PSI some avg10) at the end of that"
        " run; high means other work shared the cores."
    )
    for skipped in result["skipped"]:
        con.print(f"skipped {skipped['server']}: {skipped['reason']}")
    if "latency" in result:
        rounds = len(result.get("latency_rounds", [])) or 1
        con.print(f"latency (best of {rounds} round{'s' * (rounds != 1)}): {latency_line(result['latency'])}")
    if "sustained" in result:
        s = result["sustained"]
        con.print(
            f"sustained: {s['seconds']} s at batch 100, {s['reports_per_s']:,.0f} reports/s; RSS start "
            f"{s['rss_start_mb']} MB, peak {s['rss_peak_mb']} MB, end {s['rss_end_mb']} MB "
            f"({'flat' if s['rss_flat'] else 'GROWING'})"
        )
    for t in result.get("targets", []):
        mark = "[green]met[/]" if t["met"] else "[red]MISSED[/]"
        con.print(f"{mark}  {t['target']}: {t['value']}")
    if "error" in result:
        con.print(f"[bold red]{result['error']}[/]")
