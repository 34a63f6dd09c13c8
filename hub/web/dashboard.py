"""The ``/dashboard`` page: the stats as a self-contained HTML page with inline SVG charts.

No JavaScript and no CDN: the page renders on a machine without internet access, and each data
point is an SVG element (``class="point"``) a test or a screen reader can find.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from html import escape

from hub.config import AudienceConfig
from hub.errors import ConfigError
from hub.i18n import translations
from hub.pricing.money import show
from hub.pricing.spent import Spent
from hub.stats import Report

WIDTH, HEIGHT, PAD = 640, 220, 36
COLOURS = ("#128c7e", "#34b7f1", "#e9573f")


def is_authorised(provided: str | None, expected: str | None) -> bool:
    """Constant-time token check; no configured token means the dashboard is closed."""
    if not provided or not expected:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII str (a TypeError, once a 500).
    return hmac.compare_digest(provided.encode("utf-8", "surrogateescape"),
                               expected.encode("utf-8", "surrogateescape"))


def bar_chart(name: str, title: str, labels: Sequence[str],
              series: Sequence[tuple[str, Sequence[float]]], percent: bool = False,
              empty: str = "no data yet") -> str:
    """Grouped bars, one group per label; every bar carries its value as a data attribute."""
    top = max([v for _, values in series for v in values] + [1e-9])
    if percent:
        top = max(top, 1.0)
    groups = max(len(labels), 1)
    group_w = (WIDTH - 2 * PAD) / groups
    bar_w = max(group_w / (len(series) + 1), 1.0)
    parts = [f'<figure><figcaption>{escape(title)}</figcaption>'
             f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {WIDTH} {HEIGHT + 40}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" stroke="#999"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{WIDTH - PAD}" y2="{PAD}" stroke="#eee"/>',
             f'<text x="{PAD - 4}" y="{PAD + 4}" font-size="10" text-anchor="end">'
             f'{f"{top:.0%}" if percent else f"{top:g}"}</text>',
             f'<text x="{PAD - 4}" y="{HEIGHT + 4}" font-size="10" text-anchor="end">0</text>']
    for g, label in enumerate(labels):
        x0 = PAD + g * group_w
        for s, (series_name, values) in enumerate(series):
            value = values[g]
            h = (HEIGHT - PAD) * (value / top)
            shown = f"{value:.0%}" if percent else f"{value:g}"
            parts.append(
                f'<rect class="point" data-series="{escape(series_name)}" data-label="{escape(label)}" '
                f'data-value="{value}" x="{x0 + s * bar_w + bar_w / 2:.1f}" y="{HEIGHT - h:.1f}" '
                f'width="{bar_w * 0.9:.1f}" height="{h:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                f'<title>{escape(label)} · {escape(series_name)}: {shown}</title></rect>')
        if groups <= 14 or g % max(groups // 12, 1) == 0:
            parts.append(f'<text x="{x0 + group_w / 2:.1f}" y="{HEIGHT + 16}" font-size="11" '
                         f'text-anchor="middle">{escape(label)}</text>')
    legend_x = PAD
    for s, (series_name, _) in enumerate(series):
        parts.append(f'<rect x="{legend_x}" y="{HEIGHT + 26}" width="10" height="10" '
                     f'fill="{COLOURS[s % len(COLOURS)]}"/><text x="{legend_x + 14}" '
                     f'y="{HEIGHT + 35}" font-size="11">{escape(series_name)}</text>')
        legend_x += 14 + 8 * len(series_name) + 16
    if not labels:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">{escape(empty)}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


def render_dashboard(report: Report, *, title: str = "WhatsApp News Hub",
                     alerts: Sequence[str] = (), cost: Spent | None = None, language: str = "en",
                     extra: str = "") -> str:
    """The whole page for one report; ``alerts`` (paused routines, stopped sending) come first.

    Labels follow ``[hub] language``; ``extra`` is trusted HTML appended after the charts (the
    invitation link and QR code)."""
    _ = translations(language).gettext
    empty = _("no data yet")
    days = list(report.by_day)
    hours = [f"{h:02d}" for h in report.by_hour]
    growth_days = list(report.growth_by_day)
    runs = [a.run for a in report.annoyance]
    charts = [
        bar_chart("daily", _("Messages sent and read per day"), days, [
            (_("sent"), [report.by_day[d].sent for d in days]),
            (_("read"), [report.by_day[d].read for d in days]),
        ], empty=empty),
        bar_chart("read-by-hour", _("Read rate by hour sent"), hours, [
            (_("read rate"), [report.by_hour[int(h)].read_rate or 0.0 for h in hours]),
        ], percent=True, empty=empty),
        bar_chart("growth", _("Subscribers joining and leaving per day"), growth_days, [
            (_("new"), [report.growth_by_day[d]["new"] for d in growth_days]),
            (_("left"), [report.growth_by_day[d]["left"] for d in growth_days]),
        ], empty=empty),
        bar_chart("unsubscribes", _("Unsubscribes within 24 h after each run"), runs, [
            (_("left"), [a.unsubscribed for a in report.annoyance]),
        ], empty=empty),
    ]
    totals = _totals(report, _) + (_cost(cost, _) if cost is not None else "")
    banner = "".join(f"<p class='alert' role='alert'>⚠ {escape(a)}</p>" for a in alerts)
    suggestion = f"<p class='suggestion'>💡 {escape(report.suggestion)}</p>" if report.suggestion else ""
    return (
        f"<!doctype html><html lang='{escape(language)}'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} · dashboard</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1400px}"
        "main{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:1.5rem}"
        "figure{margin:0;border:1px solid #ddd;border-radius:8px;padding:1rem}"
        "figcaption{font-weight:600;margin-bottom:.5rem}.totals span{margin-right:1.5rem}"
        ".suggestion{background:#e7f7f4;padding:.6rem 1rem;border-radius:6px}"
        ".alert{background:#fdecea;color:#8a1c12;padding:.6rem 1rem;border-radius:6px;font-weight:600}"
        "</style></head>"
        f"<body><h1>{escape(title)}</h1>{banner}<p class='totals'>{totals}</p>{suggestion}"
        f"<main>{''.join(charts)}</main>{extra}</body></html>"
    )


def invite_section(audience: AudienceConfig, language: str = "en") -> str:
    """The invitation to join (wa.me link and QR code) to copy or print, or how to get it."""
    from hub.audience.invite import invitation

    _ = translations(language).gettext
    try:
        card = invitation(audience)
    except ConfigError:
        body = "<p>" + escape(_("Set [audience] business_number in hub.toml (or HUB_BUSINESS_NUMBER) to "
                                "show the link and QR code people use to join.")) + "</p>"
    else:
        hint = _("`hub invite` writes it as PNG and SVG files to print (--topic for one topic).")
        scan = _("Scan the code or share the link: WhatsApp opens with the message that subscribes "
                 "already typed.")
        body = (f"<p>{escape(scan)}</p>"
                f"<p><a class='invite-link' href='{escape(card.link)}'>{escape(card.link)}</a></p>"
                f"<div class='invite-qr'>{card.svg_inline()}</div>"
                f"<p><small>{escape(hint)}</small></p>")
    heading = _("Invite people")
    return f"<section id='invite'><h2>{escape(heading)}</h2>{body}</section>"


def _cost(cost: Spent, _: Callable[[str], str]) -> str:
    """Billable messages, their cost, and cost per read, from Meta's pricing in the statuses."""
    month = max(cost.by_month, default=None)
    this = cost.by_month[month] if month else cost.total
    per = show(this.per_read, cost.currency) if this.per_read is not None else "—"
    billable, spent, per_read = _("billable"), _("cost"), _("cost per read")
    return (f"<span>{billable}{f' {month}' if month else ''} <b>{this.billable}</b></span>"
            f"<span>{spent} <b>{escape(show(this.cost, cost.currency))}</b></span>"
            f"<span>{per_read} <b>{escape(per)}</b></span>")


def _totals(report: Report, _: Callable[[str], str]) -> str:
    sent = sum(c.sent for c in report.by_run.values())
    read = sum(c.read for c in report.by_run.values())
    failed = sum(c.failed for c in report.by_run.values())
    net = sum(g["net"] for g in report.growth_by_day.values())
    rate = f"{read / sent:.0%}" if sent else "—"
    sent_label, read_label, failed_label, net_label = _("sent"), _("read"), _("failed"), _("subscribers net")
    return (f"<span>{sent_label} <b>{sent}</b></span><span>{read_label} <b>{read}</b> ({rate})</span>"
            f"<span>{failed_label} <b>{failed}</b></span>"
            f"<span>{net_label} <b>{net:+d}</b></span>")
