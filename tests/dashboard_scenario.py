"""The store an editor finds one morning: two runs with titled stories and billed messages, three
stories held by the glitch guard, and a routine the brake paused (on top of test_stats' figures)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, ItemRow, RoutineRunRow, RoutineStateRow, StatusEventRow
from tests.backend import db_url
from tests.test_stats import T0, _scenario

HELD_REASON = ("this poll brought 40 new items where 2.0 is usual (limit 10); held for approval: "
               "hub items approve --source agenda")
HELD_TITLES = ("Concierto de la banda municipal", "Cortes de tráfico por la carrera popular",
               "Nueva biblioteca en el barrio norte")
PAUSED_REASON = "run #7: 5 of 40 people left within 24 h (12.5%; usual 1.0%)"


def editor_scenario(db_path) -> Store:
    """test_stats' scenario plus what the dashboard's sections show; returns an open store."""
    _scenario(db_path)
    store = Store(db_url(db_path))
    with store.write() as s:
        s.add(RoutineRunRow(id=1, routine="mañanas", status="done", scheduled_for=T0, started_at=T0,
                            planned=10))
        later = T0 + timedelta(days=2)
        s.add(RoutineRunRow(id=2, routine="mañanas", status="done", scheduled_for=later, started_at=later,
                            planned=3))
        s.flush()
        stories = [ItemRow(source="web", guid=f"g{i}", title=title, status="ready", fetched_at=T0,
                           ready_at=T0, planned_at=T0, planned_run_id=run)
                   for i, (title, run) in enumerate((("El pleno aprueba el presupuesto", 1),
                                                     ("Abre el mercado de abastos", 1),
                                                     ("Fiestas del barrio: el programa", 2)))]
        s.add_all(stories)
        s.add_all(ItemRow(source="agenda", guid=f"h{i}", title=title, status="held", reason=HELD_REASON,
                          fetched_at=T0) for i, title in enumerate(HELD_TITLES))
        s.add(RoutineStateRow(name="tardes", created_at=T0, paused_at=T0 + timedelta(days=1),
                              paused_reason=PAUSED_REASON, paused_run_id=7))
        for d in s.exec(select(DeliveryRow).where(DeliveryRow.run_id == 1)):
            if d.status in ("delivered", "read"):
                s.add(StatusEventRow(key=f"st{d.id}", wamid=f"wamid.{d.id}", status="delivered",
                                     delivery_id=d.id, category="marketing", billable=True,
                                     pricing_type="regular", at=T0, received_at=T0))
    return store


def held_ids(store: Store) -> dict[str, int]:
    """Held stories' ids by title."""
    with store.read() as s:
        return {r.title: r.id for r in s.exec(select(ItemRow).where(ItemRow.source == "agenda"))
                if r.id is not None}


def item_status(store: Store, item_id: int) -> str:
    with store.read() as s:
        row = s.get(ItemRow, item_id)
        assert row is not None
        return row.status


def paused(store: Store, routine: str) -> bool:
    with store.read() as s:
        row = s.get(RoutineStateRow, routine)
        return row is not None and row.paused_at is not None
