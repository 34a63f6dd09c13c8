"""Every label the dashboard shows, translated through the gettext catalogues (``[hub] language``).

The texts live in ``hub/locale/<language>/LC_MESSAGES/hub.po`` with the subscribers' texts;
they are marked here once so the extractor (and the catalogue test) sees each of them, also
those the page picks by name (a sending state, say). Placeholders are ``str.format`` fields,
filled after translation.
"""

from __future__ import annotations

from collections.abc import Callable

from hub.i18n import N_, translations

LABELS = (
    N_('dashboard'),
    N_('Times in {zone}'),
    N_('Needs you'),
    N_('Nothing waits for you.'),
    N_('Held by the glitch guard'),
    N_('{source}: {reason}'),
    N_('Approve'),
    N_('Drop'),
    N_('Approve all from {source}'),
    N_('Drop all from {source}'),
    N_('… and {n} more: hub items held'),
    N_('Paused by the brake'),
    N_('Held by their template'),
    N_('It resumes by itself once Meta approves the template again.'),
    N_('Resume'),
    N_('Sending is {state}: {reason}'),
    N_('paused'),
    N_('stopped'),
    N_('Runs'),
    N_('Latest {n} runs'),
    N_('when'),
    N_('routine'),
    N_('stories'),
    N_('reached'),
    N_('delivered'),
    N_('read'),
    N_('left'),
    N_('cost'),
    N_('No run yet.'),
    N_('sent'),
    N_('failed'),
    N_('new'),
    N_('net'),
    N_('subscribers net'),
    N_('billable {month}'),
    N_('cost per read'),
    N_('read rate'),
    N_('Messages sent and read per day'),
    N_('Read rate by hour sent'),
    N_('Subscribers joining and leaving per day'),
    N_('Subscriber growth by topic'),
    N_('(all topics)'),
    N_('no data yet'),
    N_('last {n} days'),
    N_('Your readers open most between {start}:00 and {end}:00 ({share} of all reads).'),
    N_('Done: {what}'),
    N_('story #{id} approved'),
    N_('story #{id} dropped'),
    N_('{source}: {n} approved'),
    N_('{source}: {n} dropped'),
    N_('routine {name} resumed'),
    N_('sending resumed; open alerts cleared'),
    N_('Resume sending'),
    N_('nothing changed'),
)


def labels_for(language: str) -> Callable[[str], str]:
    """The label function for ``language`` (``en`` or ``es``): gettext's, from the catalogue."""
    return translations(language).gettext
