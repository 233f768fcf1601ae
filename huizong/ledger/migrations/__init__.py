"""Alembic migrations of the ledger's schema (SQLite and PostgreSQL alike).

`huizong.ledger.schema.upgrade` runs them when a store is opened; `alembic` on the command line
finds them through `alembic.ini` at the repository's root, for writing the next one.
"""
