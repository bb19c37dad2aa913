"""delivrd's log lines: one format (`--log-format text|json`) for its own loggers and uvicorn's, and a limit on
lines a flood could repeat (refused callbacks, failing commits), so that a scanner or an outage cannot fill the
disk with them.

Every line goes through the root logger's one handler, on stderr. A JSON line holds `time`, `level`, `logger`,
`message`, and the fields a call gave as `extra=` (`route`, `peer`, `status`, `result`, `reason`, …).
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: what every LogRecord holds, so that a JSON line adds only the fields a call gave (and not uvicorn's colours)
_RECORD_FIELDS = {*vars(logging.makeLogRecord({})), "message", "asctime", "color_message", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((key, value) for key, value in vars(record).items() if key not in _RECORD_FIELDS)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def config(level: str, form: str) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a delivrd process: also what uvicorn is given (`log_config`), so its
    lines (`uvicorn.error`, `uvicorn.access`) take the same format, in every worker."""
    formatter = {"()": JsonFormatter} if form == "json" else {"format": TEXT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"delivrd": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "delivrd", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # uvicorn's loggers propagate to the root's handler instead of keeping their own; its access log stays off
        # (the callback routes log what they refuse, and its lines would carry each URL's ?token=)
        "loggers": {
            # NOTSET: the root's level decides, whatever level an earlier configuration left on them
            "uvicorn": {"handlers": [], "propagate": True, "level": "NOTSET"},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": "NOTSET"},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def configure(level: str, form: str) -> None:
    logging.config.dictConfig(config(level, form))


class Limited:
    """At most `lines` lines per key every `window` seconds; what is left out is then counted in one line.

    The keys are few (a route and a result, "commit"), so what this holds stays small whatever arrives.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        lines: int = 5,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.lines = lines
        self.window = window
        self.clock = clock
        # key → [window start, lines logged, lines left out, level, the fields of the latest line]
        self._windows: dict[str, list[Any]] = {}

    def log(
        self, key: str, level: int, message: str, *args: Any, exc_info: BaseException | None = None, **fields: Any
    ) -> None:
        """Log `message % args` with `fields` (JSON keys) unless `key` has had its lines in this window."""
        now = self.clock()
        window = self._windows.get(key)
        if window is not None and now - window[0] >= self.window:
            self._close(key)
            window = None
        if window is None:
            window = self._windows[key] = [now, 0, 0, level, fields]
        if window[1] < self.lines:
            window[1] += 1
            self.logger.log(level, message, *args, exc_info=exc_info, extra=fields)
            return
        window[2] += 1
        window[3], window[4] = level, fields
        if window[2] == 1:  # the count is told when the window ends, even if nothing else arrives
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            loop.call_later(max(0.0, window[0] + self.window - now), self._close, key, window)

    def _close(self, key: str, window: list[Any] | None = None) -> None:
        """End `key`'s window (only `window`, when given: a later one is left alone); say what it left out."""
        current = self._windows.get(key)
        if current is None or (window is not None and current is not window):
            return
        del self._windows[key]
        _, _, left_out, level, fields = current
        if left_out:
            self.logger.log(
                level,
                "%d more like this left out in %gs: %s",
                left_out,
                self.window,
                key,
                extra={**fields, "left_out": left_out},
            )

    def flush(self) -> None:
        """Say what every open window left out (at shutdown)."""
        for key in list(self._windows):
            self._close(key)
