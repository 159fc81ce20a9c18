"""The folder (or bucket) where the MA's admin-screen customer exports are dropped: list, read, archive.

``ma.exports`` is an fsspec glob (``./var/exports/*.csv``, ``s3://bucket/satori/*.csv``). A file is
picked up once: after its rows are staged it is moved into the archive folder (``archive/`` beside
the files unless the spec names one), so the next cut only sees files dropped since.
The admin screen writes Shift_JIS (CP932) for Excel, or UTF-8 with a BOM; both are read.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from fsspec.core import url_to_fs

ENCODINGS = ("utf-8", "cp932")
BOM = b"\xef\xbb\xbf"


class ExportEncodingError(ValueError):
    """A file that is neither UTF-8 nor CP932: nothing of it can be read."""


@dataclass(frozen=True)
class ExportFile:
    path: str  # as fsspec names it (no protocol)
    name: str


class ExportFolder:
    def __init__(self, pattern: str, archive: str | None = None):
        self.fs, self.pattern = url_to_fs(pattern)
        folder = posixpath.dirname(self.pattern)
        self.archive = url_to_fs(archive)[1] if archive else posixpath.join(folder, "archive")

    def pending(self) -> list[ExportFile]:
        """Files matching the pattern, oldest name first (the admin screen names them by date)."""
        paths = sorted(p for p in self.fs.glob(self.pattern) if self.fs.isfile(p))
        return [ExportFile(p, posixpath.basename(p)) for p in paths]

    def read_text(self, file: ExportFile) -> str:
        """The file's text: a BOM means UTF-8; otherwise UTF-8 when it decodes, else CP932."""
        raw: bytes = self.fs.cat_file(file.path)
        if raw.startswith(BOM):
            return raw[len(BOM) :].decode("utf-8", errors="strict")
        for encoding in ENCODINGS:
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                continue
        raise ExportEncodingError(f"{file.name}: neither UTF-8 nor Shift_JIS (CP932): export it again")

    def archive_file(self, file: ExportFile, stamp: str) -> str:
        """Move a staged file into the archive, its name prefixed by the cut that staged it."""
        self.fs.makedirs(self.archive, exist_ok=True)
        to = posixpath.join(self.archive, f"{stamp}_{file.name}")
        self.fs.mv(file.path, to)
        return to
