"""What the dashboard's buttons do: the same calls as ``hub items approve|drop``,
``hub routines resume`` and ``hub status --resume``, so a click and a command can never disagree.

:meth:`DashboardActions.run` returns the query string of the page shown next (what was done, to
how many), and :meth:`DashboardActions.notice` turns it back into a sentence in the page's language.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.delivery import account, brake
from hub.intake.held import settle
from hub.storage.store import Store
from hub.timekeeping.clock import Clock
from hub.web.labels import labels_for

SETTLE = {"held/approve": True, "held/drop": False}


class DashboardActions:
    def __init__(self, store: Store, clock: Clock, language: str) -> None:
        self.store, self.clock, self.language = store, clock, language

    def run(self, action: str, form: Mapping[str, str]) -> dict[str, str] | None:
        """Do ``action`` with the form's fields; None when the action or a field is unknown."""
        if action in SETTLE:
            item, source = form.get("id", ""), form.get("source", "")
            if item.isdigit():
                count = settle(self.store, [int(item)], None, self.clock.now(), approve=SETTLE[action])
                return {"done": action, "n": str(count), "id": item}
            if source:
                count = settle(self.store, [], source, self.clock.now(), approve=SETTLE[action])
                return {"done": action, "n": str(count), "source": source}
            return None
        if action == "sending/resume":
            with self.store.write() as session:
                changed = account.resume(session, self.clock.now())
            return {"done": action, "n": str(int(changed))}
        if action == "routines/resume" and form.get("name"):
            with self.store.write() as session:
                lifted = brake.resume(session, form["name"])
            return {"done": action, "n": str(int(lifted)), "name": form["name"]}
        return None

    def notice(self, query: Mapping[str, str]) -> str:
        """The sentence for a ``done=…`` query ("story #3 approved"), or "" without one."""
        t = labels_for(self.language)
        done, count = query.get("done", ""), query.get("n", "")
        if not done:
            return ""
        if count == "0":
            return t("nothing changed")
        approved = done == "held/approve"
        if done in SETTLE and query.get("id"):
            text = t("story #{id} approved") if approved else t("story #{id} dropped")
            return text.format(id=query["id"])
        if done in SETTLE and query.get("source"):
            text = t("{source}: {n} approved") if approved else t("{source}: {n} dropped")
            return text.format(n=count, source=query["source"])
        if done == "sending/resume":
            return t("sending resumed; open alerts cleared")
        if done == "routines/resume" and query.get("name"):
            return t("routine {name} resumed").format(name=query["name"])
        return ""
