"""Taking news in: fetch every due source politely, filter, and store what is new.

- :mod:`~hub.intake.pipeline` one poll, start to end.
- :mod:`~hub.intake.fetch` conditional, bounded HTTP fetching shared by every source.
- :mod:`~hub.intake.held` the glitch guard's held stories, approved or dropped by an admin.
- :mod:`~hub.intake.xmlsafe` neutralises XML entity attacks before feedparser sees a document.
"""
