"""The typed handles on the store (hub/storage/typed.py) and the settle record keep their promises."""

from __future__ import annotations

import pytest
from sqlmodel import SQLModel, select

from hub.delivery.settle import STATE_COLUMNS, DeliveryState
from hub.storage.tables import DeliveryRow, ItemRow
from hub.storage.typed import select_columns, stored_id, table_of


def test_delivery_state_declares_every_column_it_is_loaded_with() -> None:
    # Loaded by name from a row, so a column added to STATE_COLUMNS without its typed field
    # (or the other way round) would go unchecked by mypy: this catches it.
    assert set(DeliveryState.__annotations__) == set(STATE_COLUMNS)


def test_table_of_is_the_class_table_and_refuses_a_plain_model() -> None:
    assert table_of(DeliveryRow) is DeliveryRow.__table__

    class NotATable(SQLModel):
        name: str

    with pytest.raises(TypeError, match="NotATable"):
        table_of(NotATable)


def test_stored_id_refuses_a_row_never_stored() -> None:
    row = ItemRow(source="s", guid="g")
    with pytest.raises(ValueError, match="never stored"):
        stored_id(row)
    row.id = 7
    assert stored_id(row) == 7


def test_select_columns_builds_what_sqlmodel_select_builds() -> None:
    d = DeliveryRow
    columns = (d.id, d.subscriber_id, d.item_id, d.routine, d.status)
    assert str(select_columns(*columns)) == str(select(*columns))
    assert type(select_columns(*columns)) is type(select(*columns))
