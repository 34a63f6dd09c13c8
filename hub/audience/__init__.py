"""The people the hub writes to: what they say to it, their consent, and their rights.

- :mod:`~hub.audience.inbound` what the hub does when a person writes (join, leave, topics, help).
- :mod:`~hub.audience.keywords` how it reads what they write (keywords, topic names).
- :mod:`~hub.audience.texts` every text they read, in their language, from the catalogues.
- :mod:`~hub.audience.invite` the wa.me link and QR code that bring new people in.
- :mod:`~hub.audience.identity` one person whatever identifiers Meta gives (number, BSUIDs).
- :mod:`~hub.audience.consent` opt-in and opt-out, recorded with their proof first.
- :mod:`~hub.audience.optouts` opt-outs this process just heard, checked before each request.
- :mod:`~hub.audience.people` subscribers as an admin and the law see them: add, import, export,
  forget.
"""
