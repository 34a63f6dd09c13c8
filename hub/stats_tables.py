"""The stats report as the plain-text tables ``hub stats`` and ``hub demo`` print."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from hub.cloudapi.codes import label
from hub.i18n import translations
from hub.stats import Counts, Report


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else str(timedelta(seconds=round(seconds)))


def _counts_table(title: str, rows: dict[str, Counts], _: Callable[[str], str]) -> list[str]:
    lines = [title, f"  {'':<22} {_('planned'):>7} {_('sent'):>6} {_('deliv'):>6} {_('read'):>6} "
                    f"{_('failed'):>6} {_('skipped'):>7} {_('deliv%'):>6} {_('read%'):>6} "
                    f"{_('to read'):>9}"]
    for key, c in rows.items():
        lines.append(f"  {key[:22]:<22} {c.planned:>7} {c.sent:>6} {c.delivered:>6} {c.read:>6} "
                     f"{c.failed:>6} {c.skipped:>7} {_pct(c.delivery_rate):>6} {_pct(c.read_rate):>6} "
                     f"{_minutes(c.median_time_to_read):>9}")
        if c.failed_by_code:
            codes = ", ".join(f"{label(k)}: {v}" for k, v in c.failed_by_code.items())
            lines.append(f"      {_('failed by code')}: {codes}")
        if c.skipped_by_reason:
            lines.append(f"      {_('skipped')}: "
                         + ", ".join(f"{k}: {v}" for k, v in c.skipped_by_reason.items()))
    if not rows:
        lines.append(f"  ({_('nothing yet')})")
    return lines


def render_tables(report: Report, language: str = "en") -> str:
    """The terminal view of a report, its labels in ``[hub] language``."""
    _ = translations(language).gettext
    lines = _counts_table(_("Per routine run"), report.by_run, _) + [""]
    lines += _counts_table(_("Per day"), report.by_day, _) + [""]
    lines += _counts_table(_("Per item"), report.by_item, _) + [""]
    lines.append(_("Unsubscribes within 24 h after each run"))
    for a in report.annoyance:
        lines.append(f"  {a.run[:22]:<22} {_('reached')} {a.reached:>6}  {_('left')} {a.unsubscribed:>4}"
                     f"  ({_pct(a.rate)})")
    if not report.annoyance:
        lines.append(f"  ({_('nothing yet')})")
    lines += ["", _("Read rate by hour sent")]
    for hour, c in report.by_hour.items():
        lines.append(f"  {hour:02d}:00  {_('sent')} {c.sent:>6}  {_('read')} {_pct(c.read_rate):>5}  "
                     f"{_('median to read')} {_minutes(c.median_time_to_read)}")
    lines += ["", _("Subscriber growth per day")]
    for day, g in report.growth_by_day.items():
        lines.append(f"  {day}  {_('new')} {g['new']:>5}  {_('left')} {g['left']:>5}  "
                     f"{_('net')} {g['net']:>+6}")
    lines += ["", _("Subscriber growth per topic")]
    for topic, g in report.growth_by_topic.items():
        lines.append(f"  {topic[:20]:<20}  {_('new')} {g['new']:>5}  {_('left')} {g['left']:>5}  "
                     f"{_('net')} {g['net']:>+6}")
    if report.suggestion:
        lines += ["", _("Suggestion:") + " " + report.suggestion]
    return "\n".join(lines)
