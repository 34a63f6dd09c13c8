"""The hub's Alembic migrations: ``env.py``, the script template and ``versions/``.

Adding a column or table to hub/storage/tables.py needs a revision, or tests/test_migrations.py fails.
From a checkout, generate it against a database at the current head and read it before keeping it::

    from sqlalchemy import create_engine
    from alembic import command
    from hub.storage.migrate import alembic_config

    with create_engine("sqlite:///scratch.db").begin() as connection:
        command.upgrade(alembic_config(connection), "head")
        command.revision(alembic_config(connection), message="what changes and why",
                         autogenerate=True, rev_id="0003")
"""
