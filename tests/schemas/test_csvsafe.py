"""CSV cells: formula injection neutralised, CP932 misses found — never silently replaced."""

from __future__ import annotations

from datetime import datetime

import pytest

from schemas.csvsafe import cp932_safe, safe_cell
from schemas.staging import JST


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+81-3-1234-5678", "'+81-3-1234-5678"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", "'\r=1"),
        ("田中 太郎", "田中 太郎"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (-5, "-5"),
        (3.5, "3.5"),
        (True, "true"),
        (["展示会", "資料請求"], "展示会;資料請求"),
        (["=cmd"], "'=cmd"),
        (datetime(2026, 11, 28, 2, 0, tzinfo=JST), "2026-11-28T02:00:00+09:00"),
    ],
)
def test_safe_cell(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_cp932_reports_every_character_it_cannot_hold() -> None:
    text, problems = cp932_safe("髙橋𠮷🍣－①", 3, "last_name")
    # 髙, － and ① exist in CP932; 𠮷 (outside the BMP) and the emoji do not
    assert text == "髙橋〓〓－①"
    assert [(p.row, p.column, p.character) for p in problems] == [
        (3, "last_name", "𠮷"),
        (3, "last_name", "🍣"),
    ]
    assert "U+20BB7" in str(problems[0])
    assert cp932_safe("株式会社サンプル", 1, "c") == ("株式会社サンプル", [])
