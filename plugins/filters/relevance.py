"""The ``relevance`` filter: what is worth a push notification on someone's phone.

Keywords and phrases match whole words, in any case, with or without accents ("educación" =
"EDUCACION"). Source categories are mapped to the hub's topics (with aliases), so subscribers'
topics and routines' tags match whatever the editors called them. Several ``relevance`` tables
may be listed, each for some ``sources`` or for all.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

import hub
from hub.contracts import Drop, Filter, FilterContext, FilterOptions, Keep, Verdict
from hub.matching import Phrases, fold, fold_tags
from hub.news import NewsItem
from hub.timekeeping.durations import parse_interval


class RelevanceOptions(FilterOptions):
    """``[[filters]] type = "relevance"``."""

    sources: list[str] = Field(default_factory=list, description="apply to these sources; none: all")
    include: list[str] = Field(default_factory=list, description="keep only items with one of these")
    exclude: list[str] = Field(default_factory=list, description="drop items with any of these")
    fields: list[str] = Field(default_factory=lambda: ["title", "summary", "tags"],
                              description="where keywords are looked for: title, summary, text, tags")
    max_age: str | None = Field(None, description='drop items published longer ago, e.g. "2 days"')
    require_tag: str | None = Field(None, description='only items the editor tagged so, e.g. "whatsapp"')
    topics: dict[str, list[str]] = Field(
        default_factory=dict, description='hub topic → source categories and aliases, e.g. '
        'deportes = ["Deportes", "fútbol"]')
    priority_tags: list[str] = Field(default_factory=list, description='e.g. ["urgente"]')

    @field_validator("max_age")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        if value is not None:
            parse_interval(value)
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        unknown = set(value) - {"title", "summary", "text", "tags"}
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)} (expected title, summary, text, tags)")
        return value


class RelevanceFilter(Filter):
    """Keeps the items an audience wants, tagged with the hub's topics and marked if urgent."""

    Options = RelevanceOptions
    options: RelevanceOptions

    def __init__(self, options: RelevanceOptions) -> None:
        super().__init__(options)
        self.include = Phrases(options.include)
        self.exclude = Phrases(options.exclude)
        self.required = fold(options.require_tag) if options.require_tag else None
        self.priority = fold_tags(options.priority_tags)
        self.topic_of: dict[str, str] = {}
        for topic, aliases in options.topics.items():
            for alias in [topic, *aliases]:
                self.topic_of.setdefault(fold(alias), topic)
        self.max_age = parse_interval(options.max_age) if options.max_age else None

    def check(self, item: NewsItem, ctx: FilterContext) -> Verdict:
        if self.options.sources and item.source not in self.options.sources:
            return Keep(item, note=f"not applied to source {item.source}")
        tags = fold_tags(item.tags)
        if self.required and self.required not in tags:
            return Drop(f"lacks the required tag {self.options.require_tag!r}")
        if self.max_age and item.published_at:
            age = ctx.clock.now() - item.published_at
            if age > self.max_age:
                return Drop(f"published {_hours(age)} ago (max_age = {self.options.max_age})")
        text = self._searchable(item)
        excluded = self.exclude.first_match(text)
        if excluded:
            return Drop(f"mentions excluded {excluded!r}")
        notes = []
        if self.include:
            included = self.include.first_match(text)
            if not included:
                return Drop("mentions none of the included keywords")
            notes.append(f"matched {included!r}")
        item = self._enrich(item, tags, notes)
        return Keep(item, note="; ".join(notes) or "relevant")

    def _searchable(self, item: NewsItem) -> str:
        parts = {"title": item.title, "summary": item.summary, "text": item.text,
                 "tags": " | ".join(item.tags)}
        # Fields are folded apart and joined by a marker, so a phrase never spans two fields.
        return " \x00 ".join(fold(parts[name]) for name in self.options.fields)

    def _enrich(self, item: NewsItem, tags: set[str], notes: list[str]) -> NewsItem:
        topics = sorted({self.topic_of[t] for t in tags if t in self.topic_of})
        new_tags = [t for t in topics if fold(t) not in tags]
        priority = item.priority or bool(self.priority & tags)
        if priority and not item.priority:
            notes.append("priority")
        if topics:
            notes.append(f"topics {', '.join(topics)}")
        if not new_tags and priority == item.priority:
            return item
        return item.model_copy(update={"tags": [*item.tags, *new_tags], "priority": priority})


def _hours(age: Any) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


@hub.hookimpl
def register_filters(register: Any) -> None:
    register("relevance", RelevanceFilter)
