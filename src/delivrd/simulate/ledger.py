"""The ledger: every report the receiver acked, one JSON line each, written as the acks arrive.

It is the simulator's side of the bargain "an ack means stored": `verify` later asks
the receiver for each line. Lines are flushed to the operating system after every
ack, so a crash of the receiver (or of the simulator) loses none already acked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

#: The fields that identify a report in a ledger line, under Tencent's names.
FIELDS = ("sid", "mobile", "report_status")
#: Also written, for tests that compute expected statistics from a ledger (per country, per code).
DETAILS = ("nationcode", "errmsg")


class Entry(NamedTuple):
    """One acked report, by what identifies it in a stored listing."""

    sid: str
    mobile: str
    report_status: str


class Ledger:
    """Appends acked reports to FILE (created if missing; earlier lines are kept)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.file = open(self.path, "a", encoding="utf-8")
        self.lines = 0

    def record(self, reports: Iterable[dict[str, str]]) -> None:
        text = "".join(
            json.dumps({name: item.get(name) for name in FIELDS + DETAILS}, ensure_ascii=False) + "\n"
            for item in reports
        )
        self.file.write(text)
        self.file.flush()
        self.lines += text.count("\n")

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read(path: str | Path) -> list[Entry]:
    """The ledger's entries in order (a line written twice, e.g. by a rerun, appears twice).

    A last line cut off mid-way (the simulator itself was killed while writing) is skipped.
    """
    entries = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.endswith("\n"):
                break
            try:
                item = json.loads(line)
                entries.append(Entry(*(str(item[name]) for name in FIELDS)))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a ledger line ({exc})") from None
    return entries
