"""The kintone query language: a tokenizer and a recursive-descent parser into a small AST.

Grammar (clauses in this order only)::

    query   := [expr] ["order by" field [asc|desc] {"," field [asc|desc]}] ["limit" N] ["offset" N]
    expr    := term {"or" term}        term := factor {"and" factor}
    factor  := "(" expr ")" | field op
    op      := ("=" | "!=" | ">" | "<" | ">=" | "<=" | "like" | "not like") value
             | ["not"] "in" "(" value {"," value} ")" | "is" ["not"] "empty"
    value   := "quoted string" | number | FUNCTION "(" [arg {"," arg}] ")"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from sandbox.kintone.errors import KintoneError

WHITESPACE = " \t\r\n\u3000"
BREAKS = WHITESPACE + '()",=!<>'
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
KEYWORDS = frozenset(
    {"and", "or", "order", "by", "asc", "desc", "limit", "offset", "in", "not", "like", "is", "empty"}
)
COMPARISONS = ("=", "!=", ">", "<", ">=", "<=")


class Token(NamedTuple):
    kind: str  # word, string, number, op, punct, end
    text: str
    at: int


def syntax_error(detail: str = "") -> KintoneError:
    """kintone's answer to a malformed query: CB_VA01 on ``query``."""
    return KintoneError("CB_VA01", errors={"query": [f"クエリ記法が間違っています。{detail}".strip()]})


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in WHITESPACE:
            i += 1
        elif ch == '"':
            value, i = _string(text, i)
            tokens.append(Token("string", value, i))
        elif ch in "(),":
            tokens.append(Token("punct", ch, i))
            i += 1
        elif ch in "=!<>":
            op = text[i : i + 2] if text[i : i + 2] in ("!=", ">=", "<=") else ch
            if op == "!":
                raise syntax_error()
            tokens.append(Token("op", op, i))
            i += len(op)
        else:
            start = i
            while i < n and text[i] not in BREAKS:
                i += 1
            word = text[start:i]
            tokens.append(Token("number" if NUMBER_RE.match(word) else "word", word, start))
    tokens.append(Token("end", "", n))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch in "\n\t\r":
            raise syntax_error()
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt not in ESCAPES:
                raise syntax_error()
            out.append(ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise syntax_error()


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple[str, ...] = ()


Value = str | Func  # a literal (quoted or bare number) or a function call


@dataclass(frozen=True)
class Cond:
    field: str
    op: str  # one of COMPARISONS, like, not like, in, not in, is empty, is not empty
    values: tuple[Value, ...] = ()


@dataclass(frozen=True)
class BoolOp:
    op: str  # and / or
    parts: tuple[Node, ...]


Node = Cond | BoolOp


@dataclass
class Query:
    where: Node | None = None
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int | None = None
    offset: int | None = None


class Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def keyword(self, *words: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "word" and token.text.lower() in words

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise syntax_error()
        self.pos += 1

    def expect_punct(self, ch: str) -> None:
        token = self.next()
        if token.kind != "punct" or token.text != ch:
            raise syntax_error()

    def parse(self) -> Query:
        query = Query()
        if not (self.keyword("order", "limit", "offset") or self.peek().kind == "end"):
            query.where = self.expr()
        if self.keyword("order"):
            self.pos += 1
            self.expect_keyword("by")
            query.order.append(self.order_item())
            while self.peek().text == "," and self.peek().kind == "punct":
                self.pos += 1
                query.order.append(self.order_item())
        if self.keyword("limit"):
            self.pos += 1
            query.limit = self.integer()
        if self.keyword("offset"):
            self.pos += 1
            query.offset = self.integer()
        if self.peek().kind != "end":
            raise syntax_error()
        return query

    def order_item(self) -> tuple[str, bool]:
        name = self.field_name()
        descending = False
        if self.keyword("asc", "desc"):
            descending = self.next().text.lower() == "desc"
        return name, descending

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or "." in token.text:
            raise syntax_error()
        value = int(token.text)
        if value < 0:
            raise KintoneError("CB_VA01", errors={"query": ["0以上の値を指定してください。"]})
        return value

    def expr(self) -> Node:
        parts = [self.term()]
        while self.keyword("or"):
            self.pos += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def term(self) -> Node:
        parts = [self.factor()]
        while self.keyword("and"):
            self.pos += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def factor(self) -> Node:
        if self.peek().kind == "punct" and self.peek().text == "(":
            self.pos += 1
            node = self.expr()
            self.expect_punct(")")
            return node
        return self.condition()

    def field_name(self) -> str:
        token = self.next()
        if token.kind != "word" or token.text.lower() in KEYWORDS:
            raise syntax_error()
        return token.text

    def condition(self) -> Cond:
        name = self.field_name()
        token = self.peek()
        if token.kind == "op":
            self.pos += 1
            return Cond(name, token.text, (self.value(),))
        if self.keyword("like"):
            self.pos += 1
            return Cond(name, "like", (self.value(),))
        if self.keyword("in"):
            self.pos += 1
            return Cond(name, "in", self.value_list())
        if self.keyword("not"):
            self.pos += 1
            if self.keyword("like"):
                self.pos += 1
                return Cond(name, "not like", (self.value(),))
            self.expect_keyword("in")
            return Cond(name, "not in", self.value_list())
        if self.keyword("is"):
            self.pos += 1
            negated = self.keyword("not")
            if negated:
                self.pos += 1
            self.expect_keyword("empty")
            return Cond(name, "is not empty" if negated else "is empty")
        raise syntax_error()

    def value_list(self) -> tuple[Value, ...]:
        self.expect_punct("(")
        values = [self.value()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.pos += 1
            values.append(self.value())
        self.expect_punct(")")
        return tuple(values)

    def value(self) -> Value:
        token = self.next()
        if token.kind in ("string", "number"):
            return token.text
        if token.kind == "word" and self.peek().kind == "punct" and self.peek().text == "(":
            self.pos += 1
            args: list[str] = []
            while not (self.peek().kind == "punct" and self.peek().text == ")"):
                arg = self.next()
                if arg.kind not in ("word", "number", "string"):
                    raise syntax_error()
                args.append(arg.text)
                if self.peek().kind == "punct" and self.peek().text == ",":
                    self.pos += 1
            self.pos += 1
            return Func(token.text.upper(), tuple(args))
        raise syntax_error()


def parse_query(text: str) -> Query:
    """The AST of a query string, or CB_VA01 on ``query`` for any syntax error."""
    return Parser(text or "").parse()
