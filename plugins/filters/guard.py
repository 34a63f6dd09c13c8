"""The ``guard`` filter: a poll that suddenly brings far more than usual waits for an admin.

A feed rebuilt with new guids or re-dated posts looks like a flood of new stories; sending it
would be the worst message of the year. Such a poll's items are stored as ``held`` and listed by
``hub items held``; ``hub items approve`` or ``hub items drop`` settles them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

import hub
from hub.contracts import Filter, FilterContext, FilterOptions, Keep, Verdict
from hub.news import NewsItem


class GuardOptions(FilterOptions):
    """``[[filters]] type = "guard"``."""

    minimum: int = Field(10, ge=1, description="never hold a poll with this many new items or fewer")
    factor: float = Field(5.0, gt=1, description="hold when a poll brings this many times the usual")


class GuardFilter(Filter):
    """Passes each item; holds a whole poll when it is out of proportion with the source's usual."""

    Options = GuardOptions
    options: GuardOptions

    def check(self, item: NewsItem, ctx: FilterContext) -> Verdict:
        return Keep(item)

    def review_poll(self, kept: list[NewsItem], ctx: FilterContext) -> str | None:
        if ctx.first_poll:
            return None  # a first poll has no usual yet; dedup records its backlog as seen
        limit = max(float(self.options.minimum), self.options.factor * ctx.source_usual_new)
        if len(kept) <= limit:
            return None
        return (f"this poll brought {len(kept)} new items where {ctx.source_usual_new:.1f} is usual "
                f"(limit {limit:.0f}); held for approval: hub items approve --source "
                f"{kept[0].source}")


@hub.hookimpl
def register_filters(register: Any) -> None:
    register("guard", GuardFilter)
