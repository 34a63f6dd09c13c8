"""The delivery engine: from a routine's choice of stories to a status on someone's phone.

::

    routines ──► plan ──────────► outbox (DeliveryRow: planned)
                 │ render           │
                 │ caps (per day,   ▼
                 │  gap, quiet) ──► send: claim (sending) ─► holds, caps again ─► pacing ─► sink
                 │                  │                                                    │
                 brake ◄── stats    ▼                                                    ▼
                 (pause a routine)  settle ◄── statuses (webhook) ◄── Meta ◄──── SendResult
                                    (sent → delivered → read, or failed / retried / resent)

- :mod:`~hub.delivery.plan` writes one delivery row per (item or digest, subscriber), in bulk.
- :mod:`~hub.delivery.render` fixes the exact text a subscriber reads, at planning time.
- :mod:`~hub.delivery.caps` the caps (``[caps]``): per day, minimum gap, quiet hours, ceiling.
- :mod:`~hub.delivery.brake` pauses a routine whose last run drove people away.
- :mod:`~hub.delivery.reach` who a run can reach through the sink; a run reaching nobody waits.
- :mod:`~hub.delivery.template_status` routines held while their template is paused or disabled.
- :mod:`~hub.delivery.send` claims due rows and sends them through a sink, at most once each,
  doing what the sink's ``SendResult.action`` says (it knows no API's error codes).
- :mod:`~hub.delivery.claims` two-phase claims: claimed, then requested just before the call;
  a lease returns unrequested claims at once after a crash.
- :mod:`~hub.delivery.holds` answers "may this delivery go out now?" inside the claim.
- :mod:`~hub.delivery.paid_gate` a paid message is claimed only while the month's budget lasts.
- :mod:`~hub.delivery.pacing` the token bucket and back-off.
- :mod:`~hub.delivery.shared_rate` one send rate per phone number, shared by every worker.
- :mod:`~hub.delivery.account` whether the hub may send at all (paused, stopped) and its alerts.
- :mod:`~hub.delivery.settle` one status applied to one delivery, states only moving forward.
- :mod:`~hub.delivery.statuses` status webhooks stored and applied in batches.
- :mod:`~hub.delivery.replier` sends what the webhook has just planned, without waiting.
- :mod:`~hub.delivery.timed_sink` times each send for ``/metrics``.
"""
