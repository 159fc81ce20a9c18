"""What the terminal shows while a command runs: renkei's own lines, one per failed target.

Without ``--debug`` the console leaves out the libraries' retry warnings (urllib3's ``Retrying
(PolicyRetry…)``), tracebacks and the run's own log lines (the report prints what failed, once);
the Prefect UI's run log keeps all of them. With ``--debug`` everything is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.logging.handlers import PrefectConsoleHandler

NOISY = ("urllib3", "httpx", "httpcore", "prefect.flow_runs", "prefect.task_runs")


class QuietConsole(logging.Filter):
    """Drops the noisy loggers' records and any record that carries a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith(NOISY) or record.exc_info or record.exc_text)


@contextmanager
def quiet_console(debug: bool = False) -> Iterator[None]:
    """The console handlers filtered for the block (unless ``debug``)."""
    quiet = QuietConsole()
    handlers = [] if debug else _console_handlers()
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


def _console_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    found = {id(h): h for lg in loggers for h in lg.handlers if isinstance(h, PrefectConsoleHandler)}
    return list(found.values())
