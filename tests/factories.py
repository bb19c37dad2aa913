"""Report bodies for tests, shaped like Tencent's pushes."""

from __future__ import annotations

import json
from typing import Any

SEED_SAMPLE = [
    {
        "user_receive_time": "2015-10-17 08:03:04",
        "nationcode": "86",
        "mobile": "13xxxxxxxxx",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "The SMS message is successfully delivered",
        "sid": "xxxxxxx",
    }
]


def report(n: int, prefix: str = "2019:53888", **changes: Any) -> dict[str, Any]:
    """Report number `n`, unique by sid and mobile."""
    item = {
        "user_receive_time": "2026-11-24 10:00:00",
        "nationcode": "86",
        "mobile": f"138{n:08d}",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信接收成功",
        "sid": f"{prefix}{n:010d}",
    }
    item.update(changes)
    return item


def batch(start: int, count: int, **changes: Any) -> list[dict[str, Any]]:
    return [report(n, **changes) for n in range(start, start + count)]


def body(items: Any) -> bytes:
    return json.dumps(items, ensure_ascii=False).encode()
