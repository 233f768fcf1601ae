"""Alembic's environment: the connection huizong passes in, or the URL of `alembic.ini`."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from huizong.ledger.store import metadata


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:  # `alembic upgrade head` from the command line
    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite:///store/huizong.db")
    with engine.connect() as conn:
        _run(conn)
