"""The ``/dashboard`` page: what needs an editor's decision first, then the runs, then the charts.

One self-contained HTML page: inline CSS and SVG, no script, no external request, so it renders
on a machine without internet access and on a 390 px phone without sideways scrolling. Labels
come from :mod:`hub.web.labels` in ``[hub] language``; times are in the hub's time zone, named.
The buttons are plain forms that POST with the page's CSRF token (:mod:`hub.web.csrf`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from html import escape

from hub.pricing.money import show
from hub.stats import Report, best_hours
from hub.web.board import Board, local
from hub.web.charts import hbar_chart
from hub.web.labels import labels_for

DAYS_SHOWN = 14
ALL_TOPICS = "(all topics)"  # hub.stats' name for people who chose no topic
Label = Callable[[str], str]

STYLE = (
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;margin:0;padding:.75rem;color:#1d1d1d;background:#f5f6f6;"
    "line-height:1.4;overflow-wrap:anywhere}"
    ".wrap{max-width:1200px;margin:0 auto}"
    "h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.1rem;margin:0 0 .5rem}"
    "h3{font-size:1rem;margin:.6rem 0 .3rem}"
    ".zone{color:#555;margin:0 0 .6rem}"
    ".totals{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;padding:0;margin:.4rem 0 1rem;list-style:none}"
    "section,figure{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.75rem;margin:0 0 1rem}"
    ".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:0 1rem}"
    "figcaption{font-weight:600;margin-bottom:.4rem}figcaption small{font-weight:400;color:#666}"
    "svg.chart{width:100%;height:auto;display:block}"
    ".legend{margin:.3rem 0 0;font-size:.9rem}.key{margin-right:1rem}"
    ".key i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px}"
    "table{width:100%;border-collapse:collapse;font-size:.95rem}"
    "th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid #eee;vertical-align:top}"
    "th.n,td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "ul.stories{margin:0;padding-left:1rem}"
    "@media (max-width:760px){table.runs thead{display:none}"
    "table.runs tr{display:block;border-bottom:2px solid #ddd;padding:.3rem 0}"
    "table.runs td{display:flex;gap:1rem;justify-content:space-between;border:0;padding:.15rem 0}"
    "table.runs td::before{content:attr(data-label);font-weight:600;color:#555;white-space:nowrap}"
    "table.runs td.n{text-align:right}}"
    "ul.held{list-style:none;margin:0;padding:0}"
    "ul.held li{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;justify-content:space-between;"
    "padding:.4rem 0;border-bottom:1px solid #eee}"
    ".actions{display:flex;flex-wrap:wrap;gap:.4rem}form{margin:0}"
    "button{font:inherit;padding:.3rem .8rem;min-height:2.2rem;border-radius:6px;border:1px solid #888;"
    "background:#fff;cursor:pointer}"
    "button.ok{background:#0b7a6f;border-color:#0b7a6f;color:#fff}button.no{border-color:#c0392b;color:#8a1c12}"
    ".alert{background:#fdecea;color:#8a1c12;padding:.5rem .8rem;border-radius:6px;font-weight:600;"
    "margin:.4rem 0}"
    ".notice{background:#e7f7f4;padding:.5rem .8rem;border-radius:6px;margin:.4rem 0}"
    ".muted{color:#666}"
    ".invite-qr svg{width:min(100%,220px);height:auto;display:block}.invite-link{word-break:break-all}"
)


def is_authorised(provided: str | None, expected: str | None) -> bool:
    """Constant-time token check; no configured token means the dashboard is closed."""
    if not provided or not expected:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII str (a TypeError, once a 500).
    return hmac.compare_digest(provided.encode("utf-8", "surrogateescape"),
                               expected.encode("utf-8", "surrogateescape"))


def render_dashboard(board: Board, *, language: str = "en", csrf: str = "", notice: str = "",
                     title: str = "WhatsApp News Hub", extra: str = "") -> str:
    """The whole page. ``csrf`` goes into every form; ``notice`` says what the last click did;
    ``extra`` is trusted HTML after the charts (the invitation link and QR code)."""
    t = labels_for(language)
    zone = board.tz.key
    head = (f"<!doctype html><html lang='{escape(language)}'><head><meta charset='utf-8'>"
            f"<title>{escape(title)} · {escape(t('dashboard'))}</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<style>{STYLE}</style></head>")
    done = (f"<p class='notice' role='status'>{escape(t('Done: {what}').format(what=notice))}</p>"
            if notice else "")
    body = (f"<body><div class='wrap'><h1>{escape(title)}</h1>"
            f"<p class='zone'>{escape(t('Times in {zone}').format(zone=zone))}</p>{done}"
            f"<ul class='totals'>{_totals(board, t)}</ul>"
            f"{_attention(board, csrf, t)}{_runs(board, t)}"
            f"{_suggestion(board.report, t)}<div class='charts'>{_charts(board.report, t)}</div>"
            f"{extra}</div></body></html>")
    return head + body


def _form(action: str, csrf: str, fields: dict[str, str], label: str, kind: str) -> str:
    hidden = "".join(f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>"
                     for k, v in {"csrf": csrf, **fields}.items())
    return (f"<form method='post' action='{escape(action)}'>{hidden}"
            f"<button type='submit' class='{kind}'>{escape(label)}</button></form>")


def _attention(board: Board, csrf: str, t: Label) -> str:
    """Held stories and paused routines, each with its button; open alerts above them."""
    parts = [f"<p class='alert' role='alert'>⚠ {escape(a)}</p>" for a in board.alerts]
    if board.sending is not None:
        state, why = board.sending
        parts.append(f"<div class='alert' role='alert' id='sending'>⚠ "
                     f"{escape(t('Sending is {state}: {reason}').format(state=t(state), reason=why))}"
                     + _form("/dashboard/sending/resume", csrf, {}, t("Resume sending"), "ok") + "</div>")
    if board.held:
        parts.append(f"<h3>{escape(t('Held by the glitch guard'))} ({board.held_total})</h3>")
        source = None
        for story in board.held:
            if story.source != source:
                if source is not None:
                    parts.append("</ul>")
                source = story.source
                why = t("{source}: {reason}").format(source=source, reason=story.reason)
                parts.append(f"<p class='muted'>{escape(why)}</p><div class='actions'>"
                             + _form("/dashboard/held/approve", csrf, {"source": source},
                                     t("Approve all from {source}").format(source=source), "ok")
                             + _form("/dashboard/held/drop", csrf, {"source": source},
                                     t("Drop all from {source}").format(source=source), "no")
                             + "</div><ul class='held'>")
            parts.append(f"<li data-item='{story.id}'><span>#{story.id} {escape(story.title)}</span>"
                         "<span class='actions'>"
                         + _form("/dashboard/held/approve", csrf, {"id": str(story.id)}, t("Approve"), "ok")
                         + _form("/dashboard/held/drop", csrf, {"id": str(story.id)}, t("Drop"), "no")
                         + "</span></li>")
        parts.append("</ul>")
        if board.held_total > len(board.held):
            more = t("… and {n} more: hub items held").format(n=board.held_total - len(board.held))
            parts.append(f"<p class='muted'>{escape(more)}</p>")
    if board.paused:
        parts.append(f"<h3>{escape(t('Paused by the brake'))}</h3><ul class='held'>")
        for name, why in board.paused:
            parts.append(f"<li data-routine='{escape(name)}'><span><b>{escape(name)}</b> — "
                         f"{escape(why)}</span>"
                         + _form("/dashboard/routines/resume", csrf, {"name": name}, t("Resume"), "ok")
                         + "</li>")
        parts.append("</ul>")
    if board.template_held:
        parts.append(f"<h3>{escape(t('Held by their template'))}</h3><ul class='held'>")
        for name, why in board.template_held:
            parts.append(f"<li data-routine='{escape(name)}'><span><b>{escape(name)}</b> — {escape(why)}. "
                         f"{escape(t('It resumes by itself once Meta approves the template again.'))}"
                         "</span></li>")
        parts.append("</ul>")
    if len(parts) == 0:
        parts.append(f"<p class='muted'>{escape(t('Nothing waits for you.'))}</p>")
    return f"<section id='attention'><h2>{escape(t('Needs you'))}</h2>{''.join(parts)}</section>"


def _runs(board: Board, t: Label) -> str:
    """One row per run: when, routine, stories, people reached, delivered, read, left, cost."""
    heads = [("when", ""), ("routine", ""), ("stories", ""), ("reached", "n"), ("delivered", "n"),
             ("read", "n"), ("left", "n")] + ([("cost", "n")] if board.cost is not None else [])
    header = "".join(f"<th class='{cls}' scope='col'>{escape(t(name))}</th>" for name, cls in heads)
    rows = []
    for run in board.runs:
        stories = "".join(f"<li>{escape(title)}</li>" for _id, title in run.stories) or "<li>—</li>"
        cells = [local(run.at, board.tz), f"{run.routine} #{run.run_id}",
                 f"<ul class='stories'>{stories}</ul>",
                 *(str(n) for n in (run.reached, run.delivered, run.read, run.left))]
        if board.cost is not None:
            cells.append(show(run.cost, board.cost.currency) if run.cost is not None else "—")
        tds = "".join(f"<td class='{cls}' data-label='{escape(t(name))}'>"
                      f"{cell if name == 'stories' else escape(cell)}</td>"
                      for (name, cls), cell in zip(heads, cells, strict=True))
        rows.append(f"<tr data-run='{run.run_id}'>{tds}</tr>")
    table = (f"<table class='runs'><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
             if rows else f"<p class='muted'>{escape(t('No run yet.'))}</p>")
    caption = t("Latest {n} runs").format(n=len(board.runs)) if board.runs else t("Runs")
    return f"<section id='runs'><h2>{escape(caption)}</h2>{table}</section>"


def _totals(board: Board, t: Label) -> str:
    report = board.report
    sent = sum(c.sent for c in report.by_run.values())
    read = sum(c.read for c in report.by_run.values())
    failed = sum(c.failed for c in report.by_run.values())
    net = sum(g["net"] for g in report.growth_by_day.values())
    rate = f"{read / sent:.0%}" if sent else "—"
    items = [(t("sent"), str(sent)), (t("read"), f"{read} ({rate})"), (t("failed"), str(failed)),
             (t("subscribers net"), f"{net:+d}")]
    if board.cost is not None:
        cost = board.cost
        month = max(cost.by_month, default=None)
        this = cost.by_month[month] if month else cost.total
        per = show(this.per_read, cost.currency) if this.per_read is not None else "—"
        items += [(t("billable {month}").format(month=month or "").strip(), str(this.billable)),
                  (t("cost"), show(this.cost, cost.currency)), (t("cost per read"), per)]
    return "".join(f"<li>{escape(name)} <b>{escape(value)}</b></li>" for name, value in items)


def _suggestion(report: Report, t: Label) -> str:
    best = best_hours(report.opens_by_hour)
    if best is None:
        return ""
    hour, share = best
    text = t("Your readers open most between {start}:00 and {end}:00 ({share} of all reads).").format(
        start=f"{hour:02d}", end=f"{(hour + 2) % 24:02d}", share=f"{share:.0%}")
    return f"<p class='notice'>💡 {escape(text)}</p>"


def _charts(report: Report, t: Label) -> str:
    days = list(report.by_day)[-DAYS_SHOWN:]
    growth_days = list(report.growth_by_day)[-DAYS_SHOWN:]
    hours = list(report.by_hour)
    topics = list(report.growth_by_topic)
    topic_rows = [t(topic) if topic == ALL_TOPICS else topic for topic in topics]
    nets = " · ".join(f"{name} {report.growth_by_topic[topic]['net']:+d}"
                      for name, topic in zip(topic_rows, topics, strict=True))
    recent = t("last {n} days").format(n=DAYS_SHOWN)
    empty = t("no data yet")
    return "".join([
        hbar_chart("daily", t("Messages sent and read per day"), days, [
            (t("sent"), [report.by_day[d].sent for d in days]),
            (t("read"), [report.by_day[d].read for d in days])], empty=empty, note=recent),
        hbar_chart("read-by-hour", t("Read rate by hour sent"), [f"{h:02d}:00" for h in hours], [
            (t("read rate"), [report.by_hour[h].read_rate or 0.0 for h in hours])],
            percent=True, empty=empty),
        hbar_chart("growth", t("Subscribers joining and leaving per day"), growth_days, [
            (t("new"), [report.growth_by_day[d]["new"] for d in growth_days]),
            (t("left"), [report.growth_by_day[d]["left"] for d in growth_days])], empty=empty, note=recent),
        hbar_chart("growth-by-topic", t("Subscriber growth by topic"), topic_rows, [
            (t("new"), [report.growth_by_topic[topic]["new"] for topic in topics]),
            (t("left"), [report.growth_by_topic[topic]["left"] for topic in topics])], empty=empty,
                   footer=f"{t('net')}: {nets}" if topics else ""),
    ])
