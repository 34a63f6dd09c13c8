"""Reading a big table a page at a time, by id, so memory follows the page and not the table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import Session

PAGE = 5_000  # rows read at a time


def pages(session: Session, query: Any, key: Any, size: int | None = None) -> Iterator[list[Any]]:
    """``query``'s rows in ``key`` order, ``size`` at a time; ``key`` is the first column selected.

    Keyset paging (each page starts after the last key seen) reads each row once, the same way on
    SQLite and PostgreSQL, and holds no cursor open while the caller runs queries of its own.
    """
    size = size or PAGE
    last = None
    while True:
        page = list(session.exec((query if last is None else query.where(key > last))
                                 .order_by(key).limit(size)).all())
        if page:
            yield page
        if len(page) < size:
            return
        last = page[-1][0]
