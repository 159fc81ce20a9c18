"""The Open API's rate limit: at most N requests in any one-second window per API key."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """A true sliding window: admitted request times per key, so no burst at a second boundary."""

    def __init__(
        self, rate_per_second: int, window: float = 1.0, clock: Callable[[], float] = time.monotonic
    ):
        if rate_per_second < 1:
            raise ValueError("the rate limit admits at least one request per second")
        self.rate = rate_per_second
        self.window = window
        self._clock = clock
        self._admitted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def admit(self, key: str) -> float | None:
        """None when the request may go on, else the seconds until it would be admitted."""
        with self._lock:
            now = self._clock()
            times = self._admitted.setdefault(key, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) < self.rate:
                times.append(now)
                return None
            self.refused += 1
            wait = times[0] + self.window - now
        return math.ceil(round(wait * 1000, 6)) / 1000
