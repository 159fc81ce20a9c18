"""Email normalisation and grouping on Japanese edge cases."""

from __future__ import annotations

import pytest

from schemas.email import group_by_email, normalise_email

NORMALISES = [
    ("taro@example.co.jp", "taro@example.co.jp"),
    ("Taro.Yamada@Example.CO.JP", "taro.yamada@example.co.jp"),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ", "taro@example.co.jp"),  # full-width letters, ＠ and ．
    ("ＴＡＲＯ@example.co.jp", "taro@example.co.jp"),
    ("\u3000taro@example.co.jp\u3000", "taro@example.co.jp"),  # ideographic spaces
    ("  taro@example.co.jp\t\n", "taro@example.co.jp"),
    ("\u200btaro@example.co.jp\ufeff", "taro@example.co.jp"),  # zero-width at the ends
    ("taro+news@example.co.jp", "taro+news@example.co.jp"),
    ("taro@日本語.jp", "taro@xn--wgv71a119e.jp"),  # IDN domain in its ASCII form
    ("ﾀﾛｳ@example.co.jp".replace("ﾀﾛｳ", "taro"), "taro@example.co.jp"),
]

REJECTS = [
    (None, "email_missing"),
    ("", "email_missing"),
    ("\u3000 \u200b", "email_missing"),
    ("taro", "email_invalid"),
    ("taro@@example.co.jp", "email_invalid"),
    ("taro@example", "email_invalid"),
    ("taro.@example.co.jp", "email_invalid"),
    ("taro@example.co.jp.", "email_invalid"),
    ("ta..ro@example.co.jp", "email_invalid"),
    ('"taro yamada"@example.co.jp', "email_invalid"),  # quoted local part: the MA holds half-width only
    ("山田@example.co.jp", "email_invalid"),  # non-ASCII local part
    ("ta\u200bro@example.co.jp", "email_invalid"),  # zero-width inside: never silently removed
    ("taro yamada@example.co.jp", "email_invalid"),
    ("taro\u3000yamada@example.co.jp", "email_invalid"),
    ("taro@exa\x07mple.co.jp", "email_invalid"),
    (12345, "email_invalid"),
    ("a" * 250 + "@example.co.jp", "email_invalid"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALISES)
def test_normalises(raw: str, expected: str) -> None:
    result = normalise_email(raw)
    assert result.ok, result.problem
    assert result.value == expected


@pytest.mark.parametrize(("raw", "rule"), REJECTS)
def test_rejects_with_a_rule(raw: object, rule: str) -> None:
    result = normalise_email(raw)
    assert result.value is None
    assert result.problem is not None and result.problem.rule == rule and result.problem.message


def test_grouping_keeps_every_row_of_a_duplicate_group() -> None:
    rows = [
        {"id": 1, "mail": "Info@Example.co.jp"},
        {"id": 2, "mail": "sato@example.co.jp"},
        {"id": 3, "mail": "ｉｎｆｏ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ"},
        {"id": 4, "mail": "\u3000info@example.co.jp "},
        {"id": 5, "mail": "not-an-address"},
        {"id": 6, "mail": None},
        {"id": 7, "mail": "SATO2@example.co.jp"},
    ]
    grouping = group_by_email(rows, lambda r: r["mail"])
    assert [(c.email, [r["id"] for r in c.rows]) for c in grouping.conflicts] == [
        ("info@example.co.jp", [1, 3, 4])
    ]
    assert [(e, r["id"]) for e, r in grouping.unique] == [
        ("sato@example.co.jp", 2),
        ("sato2@example.co.jp", 7),
    ]
    assert [(r["id"], p.rule) for r, p in grouping.invalid] == [(5, "email_invalid"), (6, "email_missing")]
    # nothing lost: every row is in exactly one place
    placed = len(grouping.unique) + sum(len(c.rows) for c in grouping.conflicts) + len(grouping.invalid)
    assert placed == len(rows)


def test_grouping_with_no_duplicates_has_no_conflicts() -> None:
    grouping = group_by_email(["a@example.jp", "b@example.jp"], lambda r: r)
    assert grouping.conflicts == [] and len(grouping.unique) == 2
