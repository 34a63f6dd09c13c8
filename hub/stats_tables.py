"""The stats report as the plain-text tables ``hub stats`` and ``hub demo`` print."""

from __future__ import annotations

from datetime import timedelta

from hub.cloudapi.codes import label
from hub.stats import Counts, Report


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else str(timedelta(seconds=round(seconds)))


def _counts_table(title: str, rows: dict[str, Counts]) -> list[str]:
    lines = [title, f"  {'':<22} {'planned':>7} {'sent':>6} {'deliv':>6} {'read':>6} {'failed':>6} "
                    f"{'skipped':>7} {'deliv%':>6} {'read%':>6} {'to read':>9}"]
    for key, c in rows.items():
        lines.append(f"  {key[:22]:<22} {c.planned:>7} {c.sent:>6} {c.delivered:>6} {c.read:>6} "
                     f"{c.failed:>6} {c.skipped:>7} {_pct(c.delivery_rate):>6} {_pct(c.read_rate):>6} "
                     f"{_minutes(c.median_time_to_read):>9}")
        if c.failed_by_code:
            codes = ", ".join(f"{label(k)}: {v}" for k, v in c.failed_by_code.items())
            lines.append(f"      failed by code: {codes}")
        if c.skipped_by_reason:
            lines.append("      skipped: " + ", ".join(f"{k}: {v}" for k, v in c.skipped_by_reason.items()))
    if not rows:
        lines.append("  (nothing yet)")
    return lines


def render_tables(report: Report) -> str:
    """The terminal view of a report."""
    lines = _counts_table("Per routine run", report.by_run) + [""]
    lines += _counts_table("Per day", report.by_day) + [""]
    lines += _counts_table("Per item", report.by_item) + [""]
    lines.append("Unsubscribes within 24 h after each run")
    for a in report.annoyance:
        lines.append(f"  {a.run[:22]:<22} reached {a.reached:>6}  left {a.unsubscribed:>4}  ({_pct(a.rate)})")
    if not report.annoyance:
        lines.append("  (nothing yet)")
    lines += ["", "Read rate by hour sent"]
    for hour, c in report.by_hour.items():
        lines.append(f"  {hour:02d}:00  sent {c.sent:>6}  read {_pct(c.read_rate):>5}  "
                     f"median to read {_minutes(c.median_time_to_read)}")
    lines += ["", "Subscriber growth per day"]
    for day, g in report.growth_by_day.items():
        lines.append(f"  {day}  new {g['new']:>5}  left {g['left']:>5}  net {g['net']:>+6}")
    lines += ["", "Subscriber growth per topic"]
    for topic, g in report.growth_by_topic.items():
        lines.append(f"  {topic[:20]:<20}  new {g['new']:>5}  left {g['left']:>5}  net {g['net']:>+6}")
    if report.suggestion:
        lines += ["", "Suggestion: " + report.suggestion]
    return "\n".join(lines)
