"""Recursive-descent parser over the SOQL tokens (see soql.py for the subset)."""

from __future__ import annotations

from typing import Any

from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.soql import (
    BoolOp,
    Compare,
    Count,
    InList,
    Like,
    Operand,
    OrderKey,
    Query,
    SelectItem,
    Token,
    tokenize,
)

END = Token("end", "<end of query>")


def parse(soql: str) -> Query:
    """The query as a tree, or MALFORMED_QUERY naming the token that does not fit."""
    return Parser(tokenize(soql)).query()


class Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.pos = 0

    def peek(self, ahead: int = 0) -> Token:
        i = self.pos + ahead
        return self.tokens[i] if i < len(self.tokens) else END

    def take(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        return token.kind == kind and (text is None or token.text.upper() == text)

    def accept(self, kind: str, text: str | None = None) -> bool:
        if self.at(kind, text):
            self.pos += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> Token:
        if not self.at(kind, text):
            raise self.unexpected()
        return self.take()

    def unexpected(self) -> SalesforceError:
        return SalesforceError("MALFORMED_QUERY", f"unexpected token: '{self.peek().text}'")

    def query(self) -> Query:
        self.expect("kw", "SELECT")
        select = [self.select_item()]
        while self.accept("punct", ","):
            select.append(self.select_item())
        self.expect("kw", "FROM")
        sobject = self.expect("ident").text
        where = self.condition() if self.accept("kw", "WHERE") else None
        group_by: list[str] = []
        having = None
        if self.accept("kw", "GROUP"):
            self.expect("kw", "BY")
            group_by.append(self.expect("ident").text)
            while self.accept("punct", ","):
                group_by.append(self.expect("ident").text)
            if self.accept("kw", "HAVING"):
                having = self.condition()
        order: list[OrderKey] = []
        if self.accept("kw", "ORDER"):
            self.expect("kw", "BY")
            order.append(self.order_key())
            while self.accept("punct", ","):
                order.append(self.order_key())
        limit = self.integer() if self.accept("kw", "LIMIT") else None
        offset = self.integer() if self.accept("kw", "OFFSET") else 0
        if self.peek() is not END:
            raise self.unexpected()
        return Query(tuple(select), sobject, where, tuple(group_by), having, tuple(order), limit, offset)

    def integer(self) -> int:
        token = self.expect("literal")
        if not isinstance(token.value, int) or token.value < 0:
            raise SalesforceError("MALFORMED_QUERY", f"expected a non-negative integer, got '{token.text}'")
        return token.value

    def operand(self) -> Operand:
        name = self.expect("ident").text
        if name.upper() == "COUNT" and self.accept("punct", "("):
            inner = None if self.at("punct", ")") else self.expect("ident").text
            self.expect("punct", ")")
            return Count(inner)
        return name

    def select_item(self) -> SelectItem:
        expr = self.operand()
        alias = self.take().text if isinstance(expr, Count) and self.at("ident") else None
        return SelectItem(expr, alias)

    def order_key(self) -> OrderKey:
        expr = self.operand()
        descending = self.accept("kw", "DESC")
        if not descending:
            self.accept("kw", "ASC")
        nulls_last = descending
        if self.accept("kw", "NULLS"):
            nulls_last = self.accept("kw", "LAST")
            if not nulls_last:
                self.expect("kw", "FIRST")
        return OrderKey(expr, descending, nulls_last)

    def condition(self) -> Any:
        parts = [self.conjunction()]
        while self.accept("kw", "OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else BoolOp("OR", tuple(parts))

    def conjunction(self) -> Any:
        parts = [self.negation()]
        while self.accept("kw", "AND"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else BoolOp("AND", tuple(parts))

    def negation(self) -> Any:
        if self.accept("kw", "NOT"):
            return BoolOp("NOT", (self.negation(),))
        if self.accept("punct", "("):
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.predicate()

    def predicate(self) -> Any:
        left = self.operand()
        if self.accept("kw", "LIKE"):
            return Compare(left, "LIKE", Like(self.expect("string").text[1:-1]))
        negated = self.accept("kw", "NOT")
        if self.accept("kw", "IN"):
            self.expect("punct", "(")
            values = [self.value()]
            while self.accept("punct", ","):
                values.append(self.value())
            self.expect("punct", ")")
            return InList(left, tuple(values), negated)
        if negated:
            raise self.unexpected()
        op = self.expect("op").text
        return Compare(left, "!=" if op == "<>" else op, self.value())

    def value(self) -> Any:
        token = self.take()
        if token.kind in ("string", "literal"):
            return token.value
        if token.kind == "kw" and token.text in ("NULL", "TRUE", "FALSE"):
            return {"NULL": None, "TRUE": True, "FALSE": False}[token.text]
        self.pos -= 1
        raise self.unexpected()
