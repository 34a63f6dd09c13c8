"""``hub templates``: the account's message templates, and whether the config's ones would pass."""

from __future__ import annotations

import click

from hub.app import App
from hub.cloudapi.templates import TemplatesError, preflight, read_account, uses_from_config
from hub.delivery import template_status
from hub.timekeeping.clock import SystemClock

pass_app = click.make_pass_decorator(App)


def check_online(app: App) -> list[str]:
    """Read the account's templates, store them (alerts for paused ones), return the mismatches."""
    try:
        account = read_account(app.config)
    except TemplatesError as exc:
        raise click.ClickException(str(exc)) from None
    with app.store.write() as session:
        template_status.record_account(session, account, SystemClock().now())
    return preflight(uses_from_config(app.config), account)


@click.command("templates")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts and cron.")
@pass_app
def templates(app: App, as_json: bool) -> None:
    """List the WhatsApp Business Account's templates: status, category, quality, parameters."""
    try:
        account = read_account(app.config)
    except TemplatesError as exc:
        raise click.ClickException(str(exc)) from None
    with app.store.write() as session:
        template_status.record_account(session, account, SystemClock().now())
    used = {(u.name, u.language) for u in uses_from_config(app.config)}
    if as_json:
        import json

        problems = preflight(uses_from_config(app.config), account)
        click.echo(json.dumps({"templates": [
            {"name": t.name, "language": t.language, "status": t.status, "category": t.category,
             "quality": t.quality, "parameters": t.parameters(), "used": (t.name, t.language) in used}
            for t in sorted(account, key=lambda t: (t.name, t.language))], "problems": problems},
            ensure_ascii=False, indent=1))
        if problems:
            raise SystemExit(1)
        return
    if not account:
        click.echo("The account has no templates (create one in WhatsApp Manager → Message templates).")
    width = max((len(t.name) for t in account), default=4)
    click.echo(f"{'name':<{width}}  language  status    category        quality  parameters")
    for t in sorted(account, key=lambda t: (t.name, t.language)):
        mark = "  ← used by hub.toml" if (t.name, t.language) in used else ""
        click.echo(f"{t.name:<{width}}  {t.language:<8}  {t.status:<8}  {(t.category or '—'):<14}  "
                   f"{(t.quality or '—'):<7}  {t.parameters()}{mark}")
    problems = preflight(uses_from_config(app.config), account)
    for line in problems:
        click.echo(f"error: {line}", err=True)
    if problems:
        raise SystemExit(1)
