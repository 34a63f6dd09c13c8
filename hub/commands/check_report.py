"""``hub check --json``: what ``hub check`` says, as one object for scripts and cron.

The config is valid when this is printed at all: an invalid one is the usual one line on stderr
and exit code 1, as without ``--json``.
"""

from __future__ import annotations

from typing import Any

from hub.app import App
from hub.storage.store import safe_url


def check_report(app: App, online: bool) -> dict[str, Any]:
    """Everything ``hub check`` shows; with ``online``, the template mismatches too."""
    from hub.delivery.caps import Caps

    config = app.config
    url, origin = config.database_url_origin
    delivering = config.delivering_sink()
    sink = app.reaching_sink()
    problem = sink.reach_problem(None, app.clock.now()) if sink is not None else None
    report: dict[str, Any] = {
        "path": str(config.path), "ok": True,
        "store": {"url": safe_url(url), "origin": origin}, "timezone": config.hub.timezone,
        "sources": [{"name": s.options.name, "type": s.type, "every": s.options.every,
                     "enabled": s.options.enabled} for s in config.sources],
        "filters": [{"type": f.type, "enabled": f.options.enabled} for f in config.filters],
        "sinks": [{"name": name, "type": s.type, "delivers": delivering is s}
                  for name, s in config.sinks.items()],
        "caps": {"rules": Caps.from_config(config).describe(), "loosened": config.caps.loosened()},
        "cannot_reach": problem,
        "routines": [{"name": r.name, "every": r.every, "at": r.at, "mode": r.mode,
                      "max_items": r.max_items} for r in config.routines],
        "pricing": config.rate_card().describe(),
        "monthly_budget": str(config.monthly_budget) if config.monthly_budget else None,
    }
    if online:
        from hub.commands.templates import check_online

        report["template_problems"] = check_online(app)
        report["ok"] = not report["template_problems"]
    return report
