"""Small test plugins for the policy tests: a scripted source and a recording sink.

They are registered like any plugin (``hub.app.App(extra_plugins=...)`` or
``hub.plugins.load(extra)``), so the code under test cannot tell them from real ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import hub
from hub.contracts import FetchContext, FetchResult, OutgoingMessage, SendResult, Sink, Source
from hub.news import NewsItem
from hub.timekeeping.clock import Clock


class ScriptedSource(Source):
    """A feed whose content is a script: every item published up to now, newest 30 at most."""

    script: ClassVar[dict[str, list[NewsItem]]] = {}

    async def fetch(self, ctx: FetchContext) -> FetchResult:
        now = ctx.clock.now()
        items = [i for i in self.script.get(self.name, []) if i.published_at and i.published_at <= now]
        return FetchResult(items[-30:])


@dataclass
class Sent:
    at: Any
    message: OutgoingMessage


class RecordingSink(Sink):
    """Accepts every message and remembers when (by the injected clock) and what."""

    clock: ClassVar[Clock | None] = None
    sent: ClassVar[list[Sent]] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        assert self.clock is not None
        self.sent.append(Sent(self.clock.now(), message))
        return SendResult(ok=True, message_id=f"rec.{message.delivery_id}")


class PolicyTestPlugin:
    """The plugin object: provides the ``scripted`` source and the ``recording`` sink."""

    @hub.hookimpl
    def register_sources(self, register: Any) -> None:
        register("scripted", ScriptedSource)

    @hub.hookimpl
    def register_sinks(self, register: Any) -> None:
        register("recording", RecordingSink)
