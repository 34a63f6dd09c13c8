"""``/metrics`` in the Prometheus text format: counters the daemon bumps, gauges read from the store."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from hub.storage.store import Store
from hub.storage.tables import DeliveryRow, ItemRow, SubscriberRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StoreCollector(Collector):
    """Reads deliveries by state, items by status and subscribers by status at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.store.read() as session:
            yield _grouped(session, "hub_deliveries", "Deliveries by state", "state",
                           col(DeliveryRow.status))
            yield _grouped(session, "hub_items", "Stored items by status", "status", col(ItemRow.status))
            yield _grouped(session, "hub_subscribers", "Subscribers by status", "status",
                           col(SubscriberRow.status))


def _grouped(session: Session, name: str, doc: str, label: str, column: Mapped[str]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for value, count in session.exec(select(column, func.count()).group_by(column)):
        family.add_metric([str(value)], count)
    return family


class Metrics:
    """One registry per daemon, so tests can run several without clashing."""

    def __init__(self, store: Store | None = None) -> None:
        self.registry = CollectorRegistry()
        self.items_polled = Counter("hub_items_polled", "Items fetched from sources",
                                    ["source"], registry=self.registry)
        self.items_stored = Counter("hub_items_stored", "New items stored", ["source"],
                                    registry=self.registry)
        self.send_latency = Histogram(
            "hub_send_latency_seconds", "Cloud API call latency", registry=self.registry,
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10))
        self.api_errors = Counter("hub_api_errors", "Cloud API errors by code", ["code"],
                                  registry=self.registry)
        self.webhook_requests = Counter("hub_webhook_requests", "Webhook requests by outcome",
                                        ["outcome"], registry=self.registry)
        if store is not None:
            self.registry.register(StoreCollector(store))

    def render(self) -> bytes:
        return generate_latest(self.registry)
