"""Progress for long CLI work: bars, and timed lines ("[12.3s] kintone-customers actions:form: …").

Inside a deployment (nothing installed) these do nothing: the lines go to the ``renkei.progress``
logger, which only a CLI command that asks for them prints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_current: Progress | None = None


@contextmanager
def cli_progress() -> Iterator[Progress]:
    """Show bars for the steps a flow announces while this block runs."""
    global _current
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )
    _current = progress
    try:
        with progress:
            yield progress
    finally:
        _current = None


@contextmanager
def step(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A bar of ``total`` units; the yielded function advances it by one."""
    if _current is None:
        yield lambda: None
        return
    task_id = _current.add_task(description, total=total)
    progress = _current
    yield lambda: progress.advance(task_id)


class _TimedLines(logging.Handler):
    def __init__(self, console: Console, started: float):
        super().__init__(logging.INFO)
        self.console, self.started = console, started

    def emit(self, record: logging.LogRecord) -> None:
        elapsed = time.monotonic() - self.started
        self.console.print(
            f"[{elapsed:5.1f}s] {record.getMessage()}", markup=False, highlight=False, emoji=False
        )


@contextmanager
def timed_lines(console: Console, started: float | None = None) -> Iterator[Callable[[str], None]]:
    """Print every progress line with the seconds since ``started`` while this block runs; the yielded
    function prints a line of the caller's own the same way."""
    logger = logging.getLogger("renkei.progress")
    handler = _TimedLines(console, time.monotonic() if started is None else started)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger.info
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
