"""The store: SQLite by default or PostgreSQL, its tables, migrations and paged reads.

- :mod:`~hub.storage.store` opening the store and its transactions.
- :mod:`~hub.storage.tables` the tables.
- :mod:`~hub.storage.typed` typed handles on them, where SQLModel's own annotations fall short.
- :mod:`~hub.storage.migrate` schema versions with Alembic (scripts in ``migrations/``).
- :mod:`~hub.storage.paging` and :mod:`~hub.storage.medians` reading big tables in bounded memory.
"""
