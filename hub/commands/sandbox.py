"""``hub sandbox``: the Cloud API simulator on 127.0.0.1, to try a config without an account."""

from __future__ import annotations

import os
import time

import click

from hub.app import App


def _from_config(app: App) -> dict[str, str]:
    """phone_number_id and variable names from ``[sinks.whatsapp]``, when there is a hub.toml."""
    try:
        config = app.config
    except Exception:  # no or broken hub.toml: the sandbox still runs on its defaults
        return {}
    for section in config.sinks.values():
        if section.type == "whatsapp":
            o = section.options
            return {"phone_number_id": o.phone_number_id, "token_env": o.token_env,
                    "app_secret_env": o.app_secret_env}
    return {}


@click.command()
@click.option("--port", default=8999, show_default=True, help="Port on 127.0.0.1 (0: any free one).")
@click.option("--phone-number-id", default=None, help="The simulated number's id (default: hub.toml's).")
@click.option("--token-env", default=None, help="Variable holding the token to accept (default: hub.toml's).")
@click.option("--webhook", "webhook_url", default=None, help="Where to post status and inbound webhooks.")
@click.option("--app-secret-env", default=None, help="Variable holding the app secret that signs webhooks.")
@click.option("--latency", default=0.1, show_default=True, help="Seconds each answer takes.")
@click.option("--throughput", default=80, show_default=True, help="Messages per second before 130429.")
@click.option("--messaging-limit", type=int, default=None, help="Unique people outside the window per 24 h.")
@click.option("--phone", "phones", multiple=True, metavar="NUMBER[:NAME]",
              help="A simulated person who can write in (repeatable), e.g. 34600000001:Lucía.")
@click.option("--username", "usernames", multiple=True, metavar="BSUID:@NAME[:NAME]",
              help="A simulated person with a username who hides their number (repeatable), "
                   "e.g. ES.13491208655302741918:@lucia:Lucía; they write with user_id only.")
@click.option("--for", "duration", type=float, default=None, help="Stop after this many seconds.")
@click.pass_obj
def sandbox(app: App, port: int, phone_number_id: str | None, token_env: str | None,
            webhook_url: str | None, app_secret_env: str | None, latency: float, throughput: int,
            messaging_limit: int | None, phones: tuple[str, ...], usernames: tuple[str, ...],
            duration: float | None) -> None:
    """Run a Cloud API simulator: point [sinks.whatsapp] base_url at it."""
    from hub.simulator import Latency, SimulatorConfig, SimulatorServer  # aiohttp: only when used

    found = _from_config(app)
    token_env = token_env or found.get("token_env", "WHATSAPP_TOKEN")
    secret_env = app_secret_env or found.get("app_secret_env", "WHATSAPP_APP_SECRET")
    token = os.environ.get(token_env) or "sandbox-token"
    config = SimulatorConfig(
        token=token, phone_number_id=phone_number_id or found.get("phone_number_id", "1234567890"),
        throughput=throughput or None, messaging_limit=messaging_limit, latency=Latency(fixed=latency),
        webhook_url=webhook_url, app_secret=os.environ.get(secret_env), status_delay=0.5, freeze_gc=True,
        phones={number.lstrip("+"): name or "Simulated person"
                for number, _, name in (p.partition(":") for p in phones)},
    )
    for entry in usernames:
        user_id, _, rest = entry.partition(":")
        handle, _, name = rest.partition(":")
        config.usernames[user_id] = handle or "@" + user_id.rpartition(".")[2][-6:]
        config.phones[user_id] = name or "Simulated person"
    server = SimulatorServer(config, port=port).start()
    click.echo(f"Cloud API simulator at {server.base_url} (number {config.phone_number_id})")
    click.echo(f'  hub.toml: [sinks.whatsapp] base_url = "{server.base_url}"')
    hint = f"from ${token_env}" if os.environ.get(token_env) else f"export {token_env}=sandbox-token"
    click.echo(f"  token: {hint}")
    click.echo(f"  webhooks: {webhook_url or 'not posted (use --webhook URL)'}")
    click.echo(f"  a phone writes in: curl -d '{{\"from\":\"34600000001\",\"text\":\"ALTA\"}}' "
               f"{server.base_url}/_sim/inbound")
    for number, name in config.phones.items():
        if number in config.usernames:
            click.echo(f"  simulated username: {config.usernames[number]} ({name}), number hidden, "
                       f"writes as {number}")
        else:
            click.echo(f"  simulated phone: {number} ({name})")
    click.echo(f"  what was accepted: {server.base_url}/_sim/messages   (Ctrl-C to stop)")
    started = time.monotonic()
    try:
        while duration is None or time.monotonic() - started < duration:
            time.sleep(min(0.2, duration or 0.2))
    except KeyboardInterrupt:
        pass
    finally:
        accepted = len(server.simulator.accepted)
        server.stop()
    click.echo(f"Simulator stopped; {accepted} message(s) accepted.")
