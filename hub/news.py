"""The one item type that crosses the whole flow, from a source to a subscriber's phone."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class NewsItem(BaseModel):
    """A story as a source produced it, already normalised to plain and WhatsApp text.

    ``guid`` is stable for the life of the story at its source; dedup falls back to ``url``.
    """

    model_config = ConfigDict(frozen=False)

    source: str
    guid: str
    url: str = ""
    canonical_url: str = ""
    title: str = ""
    summary: str = ""
    text: str = ""
    image_url: str | None = None
    author: str | None = None
    tags: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    priority: bool = False
