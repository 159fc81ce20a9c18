"""Action-history cut files, as the vendor hands them over: generated once per cut, then served as files.

The first request for a cut's CSV writes it (streamed from the database, atomically renamed);
later requests are plain file responses. Anything that can change a past cut (inserting actions
with an explicit recorded_at, moving the clock) drops the company's files.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


class CutFiles:
    def __init__(self, folder: Path):
        self.folder = folder

    def _company(self, company: str) -> Path:
        return self.folder / company

    def ensure(self, company: str, cut_id: str, kind: str, render: Callable[[], Iterator[bytes]]) -> Path:
        """The cut's CSV file, generated now if it does not exist yet."""
        path = self._company(company) / cut_id / f"actions_{kind}.csv"
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with temporary.open("wb") as out:
                for block in render():
                    out.write(block)
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)
        return path

    def invalidate(self, company: str | None = None) -> None:
        """Drop one company's files (or every file): they are generated again on the next request."""
        shutil.rmtree(self._company(company) if company else self.folder, ignore_errors=True)
