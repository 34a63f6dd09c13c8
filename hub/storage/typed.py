"""Typed handles on the store's tables, where SQLModel's own annotations fall short.

SQLModel declares a row's ``id`` as ``int | None`` (None until inserted) and gives every
``table=True`` class a ``__table__`` it does not declare; its ``select()`` is typed for up to
four columns. These helpers say what each thing is once, so callers type-check without
``# type: ignore`` and behave exactly as before.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from sqlalchemy import Table
from sqlalchemy.orm import Mapped
from sqlmodel import SQLModel, col
from sqlmodel.sql.expression import Select


class _Stored(Protocol):
    id: int | None


def table_of(model: type[SQLModel]) -> Table:
    """``model.__table__``: its columns (``.c``) and the target of Core joins, inserts and updates."""
    table = vars(model).get("__table__")
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table=True SQLModel class")
    return table


def primary_key(column: int | None) -> Mapped[int]:
    """``col(Row.id)`` for reading ids back: a stored row's id is never NULL, so it is an ``int``."""
    return cast("Mapped[int]", col(column))


def stored_id(row: _Stored) -> int:
    """The id of a row read from (or flushed to) the store; raises for a row never stored."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it was never stored")
    return row.id


def select_columns(*columns: Any) -> Select[*tuple[Any, ...]]:
    """``select()`` of five or more columns, which sqlmodel types only up to four: rows of Any.

    It builds exactly what ``sqlmodel.select`` builds for several columns.
    """
    return Select(*columns)
