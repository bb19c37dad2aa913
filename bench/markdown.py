"""`python -m bench.markdown [FILE]`: a results JSON as the Markdown table docs/performance.md shows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench import report

DEFAULT = Path(__file__).parent / "results" / "latest.json"


def markdown(result: dict) -> str:
    lines = [
        f"`{result['command']}`, started {result['started_at']}, {result['setup']['rounds']} round(s) of "
        f"{result['setup']['duration_s']} s per server and batch (best round shown).",
        "",
        "| server | batch | req/s | reports/s | p50 ms | p99 ms | peak RSS MB | cpu µs/req (loop) | db cpu µs/req | vs ceiling | vs naive | cpu stall % |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['server']} | {r['batch']} | {r['requests_per_s']:,.0f} | {r['reports_per_s']:,.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['peak_rss_mb']:.0f} | {report.cpu_cell(r)} | {report.db_cpu_cell(r)} | "
            f"{str(r['vs_ceiling']) + '×' if 'vs_ceiling' in r else ''} | "
            f"{str(r['vs_naive']) + '×' if 'vs_naive' in r else ''} | {r.get('cpu_pressure_avg10') or ''} |"
        )
    lines.append("")
    for s in result["skipped"]:
        lines.append(f"- skipped {s['server']}: {s['reason']}")
    if "latency" in result:
        rounds = result.get("latency_rounds", [])
        lines.append(
            f"- latency at a fixed rate (best of {len(rounds) or 1}): {report.latency_line(result['latency'])}"
        )
        if len(rounds) > 1:
            lines.append(
                "  (rounds: "
                + "; ".join(f"p99 {r['p99_ms']} ms at {r['requests_per_s']:,.0f} req/s" for r in rounds)
                + ")"
            )
    if "sustained" in result:
        s = result["sustained"]
        lines.append(
            f"- sustained, batch 100 for {s['seconds']:.0f} s: {s['reports_per_s']:,.0f} reports/s, "
            f"RSS start {s['rss_start_mb']} MB, peak {s['rss_peak_mb']} MB, end {s['rss_end_mb']} MB"
        )
    for r in result["rows"]:
        if "check" in r:
            c = r["check"]
            lines.append(
                f"- {r['server']} batch {r['batch']}: stored {c['stored_reports']:,} reports, acked "
                f"{c['acked_reports']:,} (+{c['unacked_but_stored']} in flight when wrk stopped, warm-up and run)"
            )
    lines += ["", "| target | value | met |", "|---|--:|---|"]
    for t in result.get("targets", []):
        lines.append(f"| {t['target']} | {t['value']} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else DEFAULT).read_text())))
