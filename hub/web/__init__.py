"""Everything the hub serves over HTTP: the webhook Meta calls and the daemon's own pages.

- :mod:`~hub.web.webhook` statuses and what people write, signature-checked, stored before 200.
- :mod:`~hub.web.webhook_parse` Meta's webhook JSON into plain records.
- :mod:`~hub.web.webhook_app` the webhook as a configured hub serves it.
- :mod:`~hub.web.signature` Meta's ``X-Hub-Signature-256``.
- :mod:`~hub.web.group_commit` posts arriving together share one durable transaction.
- :mod:`~hub.web.pages` ``/healthz``, ``/metrics`` and ``/dashboard``.
- :mod:`~hub.web.dashboard` and :mod:`~hub.web.metrics` what those pages show.
- :mod:`~hub.web.board` what the dashboard reads from the store; :mod:`~hub.web.charts` its bars.
- :mod:`~hub.web.actions` its buttons; :mod:`~hub.web.csrf` their session cookie and CSRF token.
- :mod:`~hub.web.labels` every dashboard label, in English and Spanish.
- :mod:`~hub.web.asgi_server` uvicorn in a background thread, for tests and ``hub demo``.
"""
