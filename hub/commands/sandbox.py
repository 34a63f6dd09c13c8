"""``hub sandbox``: the Cloud API simulator on 127.0.0.1, to try a config without an account."""

from __future__ import annotations

import errno
import os
import time

import click

from hub.app import App


def _from_config(app: App) -> dict[str, str]:
    """What the hub's own hub.toml says, when there is one: the sandbox takes the hub's variables.

    The number and token variable come from ``[sinks.whatsapp]``; the secret variable and the
    webhook's address from ``[webhook]``, the side that checks the signature.
    """
    try:
        config = app.config
    except Exception:  # no or broken hub.toml: the sandbox still runs on its defaults
        return {}
    hook = config.webhook
    host = "127.0.0.1" if hook.host in ("0.0.0.0", "::", "") else hook.host
    found = {"app_secret_env": hook.app_secret_env, "verify_token_env": hook.verify_token_env,
             "webhook_hint": f"http://{host}:{hook.port}{hook.path}"}
    for section in config.sinks.values():
        if section.type == "whatsapp":
            o = section.options
            found |= {"phone_number_id": o.phone_number_id, "token_env": o.token_env}
    return found


def _verify(url: str, token_env: str) -> str:
    """Meta's handshake when a Callback URL is saved: GET with the verify token, expect the challenge.

    Told, never fatal: the hub may start after the sandbox, and the posts are retried.
    """
    import secrets

    import httpx

    token = os.environ.get(token_env)
    if not token:
        return f"skipped (${token_env} is not set here; the hub needs it too)"
    challenge = secrets.token_hex(8)
    try:
        answer = httpx.get(url, params={"hub.mode": "subscribe", "hub.verify_token": token,
                                        "hub.challenge": challenge}, timeout=5)
    except httpx.HTTPError as exc:
        return f"the webhook did not answer ({exc.__class__.__name__}); is hub serve running there?"
    if answer.status_code == 200 and answer.text == challenge:
        return f"the webhook answered the handshake with ${token_env}"
    return f"refused ({answer.status_code}): is ${token_env} the same for the hub?"


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
    secret = os.environ.get(secret_env)
    if webhook_url and not secret:
        # Every post would be refused (401) by a hub that checks signatures, which they all do.
        raise click.ClickException(
            f"{secret_env} is not set: the hub refuses unsigned webhooks. Export the same "
            f"{secret_env}=… for hub sandbox and hub serve (any value while trying things out)")
    config = SimulatorConfig(
        token=token, phone_number_id=phone_number_id or found.get("phone_number_id", "1234567890"),
        throughput=throughput or None, messaging_limit=messaging_limit, latency=Latency(fixed=latency),
        webhook_url=webhook_url, app_secret=secret, status_delay=0.5, freeze_gc=True,
        phones={number.lstrip("+"): name or "Simulated person"
                for number, _, name in (p.partition(":") for p in phones)},
    )
    for entry in usernames:
        user_id, _, rest = entry.partition(":")
        handle, _, name = rest.partition(":")
        config.usernames[user_id] = handle or "@" + user_id.rpartition(".")[2][-6:]
        config.phones[user_id] = name or "Simulated person"
    server = SimulatorServer(config, port=port)
    try:
        server.start()
    except OSError as exc:
        server.stop()
        if exc.errno != errno.EADDRINUSE:
            raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        raise click.ClickException(f"port {port} on 127.0.0.1 is already in use (another sandbox?): "
                                   "pass --port N with a free port, or --port 0 for any free one"
                                   ) from None
    click.echo(f"Cloud API simulator at {server.base_url} (number {config.phone_number_id})")
    click.echo(f'  hub.toml: [sinks.whatsapp] base_url = "{server.base_url}"')
    hint = f"from ${token_env}" if os.environ.get(token_env) else f"export {token_env}=sandbox-token"
    click.echo(f"  token: {hint}")
    hint = found.get("webhook_hint", "http://127.0.0.1:8080/webhook")
    click.echo(f"  webhooks: posted to {webhook_url}, signed with ${secret_env}" if webhook_url
               else f"  webhooks: not posted (use --webhook {hint}, where hub serve listens)")
    if webhook_url:
        verify_env = found.get("verify_token_env", "WHATSAPP_VERIFY_TOKEN")
        click.echo(f"  verification: {_verify(webhook_url, verify_env)}")
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
