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
    planned, sent, deliv, read, failed = _("planned"), _("sent"), _("deliv"), _("read"), _("failed")
    skipped, deliv_pct, read_pct, to_read = _("skipped"), _("deliv%"), _("read%"), _("to read")
    lines = [title, f"  {'':<22} {planned:>7} {sent:>6} {deliv:>6} {read:>6} {failed:>6} {skipped:>7} "
                    f"{deliv_pct:>6} {read_pct:>6} {to_read:>9}"]
    by_code, nothing = _("failed by code"), _("nothing yet")
    for key, c in rows.items():
        lines.append(f"  {key[:22]:<22} {c.planned:>7} {c.sent:>6} {c.delivered:>6} {c.read:>6} "
                     f"{c.failed:>6} {c.skipped:>7} {_pct(c.delivery_rate):>6} {_pct(c.read_rate):>6} "
                     f"{_minutes(c.median_time_to_read):>9}")
        if c.failed_by_code:
            codes = ", ".join(f"{label(k)}: {v}" for k, v in c.failed_by_code.items())
            lines.append(f"      {by_code}: {codes}")
        if c.skipped_by_reason:
            lines.append(f"      {skipped}: "
                         + ", ".join(f"{k}: {v}" for k, v in c.skipped_by_reason.items()))
    if not rows:
        lines.append(f"  ({nothing})")
    return lines


def render_tables(report: Report, language: str = "en") -> str:
    """The terminal view of a report, its labels in ``[hub] language``."""
    _ = translations(language).gettext
    reached, left, nothing, sent, read = _("reached"), _("left"), _("nothing yet"), _("sent"), _("read")
    median, new, net = _("median to read"), _("new"), _("net")
    lines = _counts_table(_("Per routine run"), report.by_run, _) + [""]
    lines += _counts_table(_("Per day"), report.by_day, _) + [""]
    lines += _counts_table(_("Per item"), report.by_item, _) + [""]
    lines.append(_("Unsubscribes within 24 h after each run"))
    for a in report.annoyance:
        lines.append(f"  {a.run[:22]:<22} {reached} {a.reached:>6}  {left} {a.unsubscribed:>4}"
                     f"  ({_pct(a.rate)})")
    if not report.annoyance:
        lines.append(f"  ({nothing})")
    lines += ["", _("Read rate by hour sent")]
    for hour, c in report.by_hour.items():
        lines.append(f"  {hour:02d}:00  {sent} {c.sent:>6}  {read} {_pct(c.read_rate):>5}  "
                     f"{median} {_minutes(c.median_time_to_read)}")
    lines += ["", _("Subscriber growth per day")]
    for day, g in report.growth_by_day.items():
        lines.append(f"  {day}  {new} {g['new']:>5}  {left} {g['left']:>5}  {net} {g['net']:>+6}")
    lines += ["", _("Subscriber growth per topic")]
    for topic, g in report.growth_by_topic.items():
        lines.append(f"  {topic[:20]:<20}  {new} {g['new']:>5}  {left} {g['left']:>5}  {net} {g['net']:>+6}")
    if report.suggestion:
        lines += ["", _("Suggestion:") + " " + report.suggestion]
    return "\n".join(lines)
