"""A small fake of the agent's Sql seam: it records every statement with its arguments and
answers queries from a table given by the test."""
from __future__ import annotations

from mysql_cluster_agent.local_server import SqlError


class FakeSql:
    def __init__(self, answers: dict[str, list[tuple[object, ...]]] | None = None,
                 failing: dict[str, SqlError] | None = None,
                 named: dict[str, list[dict[str, object]]] | None = None) -> None:
        self.answers = answers or {}
        self.failing = failing or {}
        self.named = named or {}
        self.ran: list[tuple[str, tuple[object, ...]]] = []

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        self.ran.append((sql, args))
        if sql in self.failing:
            raise self.failing[sql]
        if sql not in self.answers:
            raise AssertionError(f"the fake server was not told how to answer {sql!r}")
        return self.answers[sql]

    def query_named(self, sql: str) -> list[dict[str, object]]:
        self.ran.append((sql, ()))
        if sql in self.failing:
            raise self.failing[sql]
        if sql not in self.named:
            raise AssertionError(f"the fake server was not told how to answer {sql!r} by column")
        return self.named[sql]

    def execute(self, sql: str, args: tuple[object, ...] = ()) -> None:
        self.ran.append((sql, args))
        if sql in self.failing:
            raise self.failing[sql]

    @property
    def statements(self) -> list[str]:
        return [sql for sql, _ in self.ran]
