"""The ``console`` sink: prints what each subscriber would get, for trying a config safely."""

from __future__ import annotations

import sys
from typing import Any

import click

import hub
from hub.contracts import OutgoingMessage, SendResult, Sink, SinkOptions
from hub.privacy import mask_person


class ConsoleOptions(SinkOptions):
    """``[sinks.console]``."""


class ConsoleSink(Sink):
    """Writes each message to standard output, addressed to the masked number."""

    Options = ConsoleOptions

    async def send(self, message: OutgoingMessage) -> SendResult:
        click.echo(f"── to {mask_person(message.phone, message.user_id)} (delivery {message.delivery_id}) ──",
                   file=sys.stdout)
        click.echo(message.text + "\n", file=sys.stdout)
        return SendResult(ok=True, message_id=f"console.{message.delivery_id}")


@hub.hookimpl
def register_sinks(register: Any) -> None:
    register("console", ConsoleSink)
