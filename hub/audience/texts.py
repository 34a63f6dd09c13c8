"""Every text a subscriber reads, by name, in ``[audience] language``, overridable in hub.toml.

The texts come from the gettext catalogues (:mod:`hub.i18n`); ``[audience.texts]`` replaces any
of them by name (``welcome = "…"``). A text may carry ``{placeholders}``, filled with
:meth:`str.format`; an override may use the same placeholders, no others (checked when
hub.toml is read).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache

from hub.i18n import N_, translations

MESSAGES: dict[str, str] = {
    # joining and leaving
    "welcome": N_("Hello! You are now subscribed to our news. Write STOP whenever you want to stop "
                  "receiving it."),
    "already_subscribed": N_("You were already subscribed."),
    "goodbye": N_("Done: you will get no more messages from us. If you would rather have something "
                  "lighter, choose an option; otherwise there is nothing else to do."),
    "weekly_button": N_("Weekly digest"),
    "pause_button": N_("Pause {days} days"),
    "weekly_option": N_("• Weekly digest: just one message a week."),
    "pause_option": N_("• Pause {days} days: we write to you again after that."),
    "weekly_done": N_("Done: you will get at most one message a week. Write STOP to end it."),
    "paused_done": N_("Done: we will not write to you until {date}. Write STOP if you would rather "
                      "receive nothing."),
    "help": N_("Write JOIN to get our news (or JOIN and the topics you care about), TOPICS to choose "
               "them, WHY? to know why you got a message and STOP to stop receiving it."),
    "start_hint": N_("Write JOIN to start receiving them."),
    # topics
    "topics_mine": N_("Your topics: {topics}. Write TOPICS to change them."),
    "topics_all_choosable": N_("You get all the news. Write TOPICS to choose only some topics."),
    "topics_all": N_("You get all the news."),
    "topics_none_configured": N_("There are no topics to choose: you get all the news."),
    "topics_unknown": N_("We have no topic called “{said}”. Available topics: {topics}."),
    "topics_intro": N_("Tap a topic to add or remove it."),
    "topics_button": N_("Choose topics"),
    "topics_section": N_("Topics"),
    "topic_chosen": N_("✓ You get it"),
    "topic_tap": N_("Tap to add it"),
    "all_topics": N_("All topics"),
    "all_topics_chosen": N_("✓ You get everything"),
    "all_topics_tap": N_("Get everything"),
    # ¿POR QUÉ? / WHY?
    "why_nothing_yet": N_("We have not sent you any news yet."),
    "why_sent": N_("We sent you {titles} on {when}."),
    "why_sent_routine": N_("We sent you {titles} on {when} with the routine “{routine}”."),
    "why_a_message": N_("a message"),
    "why_title": N_("“{title}”"),
    "why_matches": N_("It matches your topics: {topics}."),
    "why_all_news": N_("You chose no topics, so you get all the news."),
    "why_joined": N_("You subscribed on {date}."),
    "why_joined_words": N_("You subscribed on {date} by writing “{words}”."),
    "why_joined_note": N_("You subscribed on {date} ({note})."),
    "why_end": N_("Write TOPICS to choose topics or STOP to stop receiving them."),
    # the news itself
    "footer": N_("_Write STOP to stop receiving this news._"),
    "digest_heading": N_("News digest"),
    "more_titles": N_("and {count} more"),
}


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a text uses (a ValueError for a malformed one, such as a lone ``{``)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Texts:
    """The subscriber texts of one language, with hub.toml's overrides on top."""

    def __init__(self, language: str = "es", overrides: Mapping[str, str] | None = None) -> None:
        self.language = language
        self.overrides = dict(overrides or {})
        self._gettext = translations(language).gettext

    def __call__(self, name: str, **values: object) -> str:
        """The text called ``name``, its placeholders filled from ``values``."""
        template = self.overrides.get(name) or self._gettext(MESSAGES[name])
        return template.format(**values) if values else template

    def date(self, moment: date | datetime) -> str:
        """A day as people of this language write it: "12 de marzo de 2026", "March 12, 2026"."""
        from babel.dates import format_date

        return format_date(moment, format="long", locale=self.language)

    def moment(self, moment: datetime) -> str:
        """A day and time, short: "12/3/26, 9:30", "3/12/26, 9:30 AM"."""
        from babel.dates import format_datetime

        return format_datetime(moment, format="short", tzinfo=moment.tzinfo, locale=self.language)


@cache
def plain(language: str = "es") -> Texts:
    """The catalogue's texts of ``language`` with no overrides (defaults of the renderers)."""
    return Texts(language)
