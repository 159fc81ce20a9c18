"""A SOQL tokenizer and parser for the subset a sync uses (no relationships, no subqueries).

SELECT fields | COUNT(Id) | COUNT() FROM object [WHERE …] [GROUP BY f, … [HAVING …]]
[ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], …] [LIMIT n] [OFFSET n]; WHERE has = != <> < <= > >=,
AND/OR/NOT, parentheses, IN/NOT IN, LIKE, NULL, TRUE/FALSE, numbers, quoted strings with SOQL
escapes, and date / date-time literals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce.errors import SalesforceError

TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\d:T])
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
KEYWORDS = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "NULL",
        "TRUE",
        "FALSE",
        "GROUP",
        "BY",
        "HAVING",
        "ORDER",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
    ]
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    value: Any = None


@dataclass(frozen=True)
class Like:
    """A LIKE pattern kept raw so that \\% and \\_ stay literal."""

    raw: str

    def regex(self) -> re.Pattern[str]:
        out, i = "", 0
        while i < len(self.raw):
            c = self.raw[i]
            if c == "\\" and i + 1 < len(self.raw):
                nxt = self.raw[i + 1]
                out += re.escape(ESCAPES.get(nxt, nxt))
                i += 2
                continue
            out += ".*" if c == "%" else "." if c == "_" else re.escape(c)
            i += 1
        return re.compile(out, re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Count:
    """COUNT(field) or COUNT() as a select item or a HAVING / ORDER BY operand."""

    field: str | None


Operand = str | Count


@dataclass(frozen=True)
class Compare:
    left: Operand
    op: str
    right: Any


@dataclass(frozen=True)
class InList:
    left: Operand
    values: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND, OR, NOT
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class SelectItem:
    expr: Operand
    alias: str | None = None


@dataclass(frozen=True)
class OrderKey:
    expr: Operand
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    select: tuple[SelectItem, ...]
    sobject: str
    where: Any = None
    group_by: tuple[str, ...] = ()
    having: Any = None
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None
    offset: int = 0

    @property
    def aggregate(self) -> bool:
        return bool(self.group_by) or any(isinstance(s.expr, Count) for s in self.select)


def _unescape(body: str) -> str:
    out, i = "", 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u":
            out += chr(int(body[i + 2 : i + 6], 16))
            i += 6
        elif nxt in ESCAPES:
            out += ESCAPES[nxt]
            i += 2
        elif nxt in "%_":
            out += "\\" + nxt
            i += 2
        else:
            raise SalesforceError("MALFORMED_QUERY", f"Invalid string literal: bad escape \\{nxt}")
    return out


def parse_datetime(text: str) -> datetime:
    """A SOQL or REST date-time (Z, ±HH:MM or ±HHMM offset) as an aware UTC datetime."""
    normal = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", normal):
        normal = normal[:-2] + ":" + normal[-2:]
    value = datetime.fromisoformat(normal)
    if value.tzinfo is None:
        raise ValueError(f"date-time without an offset: {text}")
    return value.astimezone(UTC)


def tokenize(soql: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(soql):
        m = TOKEN.match(soql, pos)
        if not m:
            raise SalesforceError("MALFORMED_QUERY", f"unexpected token: '{soql[pos : pos + 20]}'")
        pos = m.end()
        kind, text = m.lastgroup or "", m.group()
        if kind == "ws":
            continue
        if kind == "string":
            tokens.append(Token("string", text, _unescape(text[1:-1])))
        elif kind == "datetime":
            tokens.append(Token("literal", text, parse_datetime(text)))
        elif kind == "date":
            tokens.append(Token("literal", text, date.fromisoformat(text)))
        elif kind == "number":
            tokens.append(Token("literal", text, float(text) if "." in text else int(text)))
        elif kind == "ident" and text.upper() in KEYWORDS:
            tokens.append(Token("kw", text.upper()))
        else:
            tokens.append(Token(kind, text))
    return tokens
