"""When a failed event is tried again: exponential backoff with jitter, after Svix's schedule.

Seconds, then minutes, then hours: eight attempts over about 28 hours, after which the event is failed for good
(kept, visible, and sent again by a replay). The schedule is a setting (`--retry-schedule`)."""

from __future__ import annotations

import random

from delivrd.option_types import duration

#: the waits after the 1st, 2nd, … failed attempt, in seconds (Svix: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)
DEFAULT = "5s,5m,30m,2h,5h,10h,10h"
#: each wait is drawn within ±this fraction of its step, so endpoints that failed together do not retry together
JITTER = 0.2


class Schedule(tuple[int, ...]):
    """Waits in seconds, written back as they are read (so the environment carries them to each worker)."""

    def __str__(self) -> str:
        return ",".join(f"{s}s" for s in self)

    def wait_after(self, attempts: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait after the `attempts`-th failed attempt; None when none is left (failed for good)."""
        if attempts > len(self):
            return None
        step = self[attempts - 1]
        return step * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def schedule(text: str) -> Schedule:
    """Comma-separated waits, one per retry: `5s,5m,30m,2h,5h,10h,10h`."""
    return Schedule(duration(part) for part in text.split(",") if part.strip())
