"""The ``dedup`` filter: one story is one item, however many times and places it appears."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

import hub
from hub.contracts import Drop, Filter, FilterContext, FilterOptions, Keep, Verdict
from hub.news import NewsItem
from hub.tables import ItemRow


class DedupOptions(FilterOptions):
    """``[[filters]] type = "dedup"``."""


class DedupFilter(Filter):
    """Drops an item whose guid, or failing that whose canonical link, is already stored."""

    Options = DedupOptions

    def check(self, item: NewsItem, ctx: FilterContext) -> Verdict:
        same_guid = ctx.session.exec(
            select(ItemRow.id, ItemRow.source).where(ItemRow.guid == item.guid).limit(1)
        ).first()
        if same_guid is not None:
            return Drop(f"duplicate of item #{same_guid[0]} from {same_guid[1]} (same guid)")
        if item.canonical_url:
            same_link = ctx.session.exec(
                select(ItemRow.id, ItemRow.source)
                .where(ItemRow.canonical_url == item.canonical_url)
                .limit(1)
            ).first()
            if same_link is not None:
                return Drop(f"duplicate of item #{same_link[0]} from {same_link[1]} (same link)")
        return Keep(item)


@hub.hookimpl
def register_filters(register: Any) -> None:
    register("dedup", DedupFilter)
