"""``hub subscribers import`` in bulk still stores each person with their consent record (issue 19)."""

from __future__ import annotations

from pathlib import Path

from hub.storage.store import Store
from hub.storage.tables import ConsentEventRow, SubscriberRow
from tests.conftest import HubRunner, db_url, write_config


def test_every_imported_person_is_active_with_the_lists_consent_note(project: Path,
                                                                     hub_cli: HubRunner) -> None:
    write_config(project / "hub.toml", '[hub]\ndatabase_url = "sqlite:///hub.db"\n')
    assert hub_cli("subscribers", "add", "+34612000001", "--consent", "phone call").exit_code == 0
    assert hub_cli("subscribers", "add", "+34612000002", "--consent", "phone call").exit_code == 0
    assert hub_cli("subscribers", "remove", "+34612000002").exit_code == 0
    lines = ["phone,name,topics", "+34612000001,Ana,deportes", "+34612000002,Bea",
             *(f"+346120001{i:02d},Persona {i},cultura" for i in range(50)), "+34612000100,Otra vez,"]
    csv = project / "people.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = hub_cli("subscribers", "import", str(csv), "--consent", "sign-up form 2025")
    # 50 new people and Ana again; Bea left, so the list does not bring her back
    assert "52 imported, 1 skipped, 0 rejected" in result.output, result.output

    store = Store(db_url(project / "hub.db"))
    with store.read() as session:
        people = {p.phone: p for p in session.query(SubscriberRow)}
        events = list(session.query(ConsentEventRow).filter(ConsentEventRow.note == "sign-up form 2025"))
    store.dispose()
    assert people["34612000002"].status == "unsubscribed"
    new = [people[f"346120001{i:02d}"] for i in range(50)]
    assert all(p.status == "active" and p.opted_in_at is not None for p in new)
    assert people["34612000100"].name == "Otra vez" and people["34612000100"].topics == ["cultura"]
    assert people["34612000149"].name == "Persona 49" and people["34612000149"].topics == ["cultura"]
    assert people["34612000001"].name == "Ana" and people["34612000001"].topics == ["deportes"]
    by_person: dict[int | None, list[ConsentEventRow]] = {}
    for event in events:
        by_person.setdefault(event.subscriber_id, []).append(event)
    assert all(len(by_person[p.id]) == 1 for p in new if p.phone != "34612000100")
    assert len(by_person[people["34612000100"].id]) == 2  # its line came twice: two proofs
    assert len(by_person[people["34612000001"].id]) == 1
    assert all(e.kind == "opt_in" and e.channel == "import" and e.phone == people_phone
               for p in new for e in by_person[p.id] for people_phone in [p.phone])
