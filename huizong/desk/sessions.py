"""Sign-in for the review desk: sessions kept in the ledger, sign-in throttled by name and address.

The browser's cookie holds a random token; the ledger keeps only its SHA-256, so a copy of the
ledger signs no one in. A session ends when its user signs out, when it has been idle for
IDLE_MINUTES or open for LONGEST_HOURS, when the password changes, or when the account is
disabled: a cookie reused after any of these is refused. Each session has its own CSRF token,
which every form carries.

Wrong passwords are counted per username and per address over WINDOW_MINUTES: past
MAX_PER_NAME (or MAX_PER_ADDRESS) sign-in is refused for that name (or from that address) until
the window has passed, whether or not the password is right, so guessing costs as much as waiting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from huizong.clock import now
from huizong.desk.accounts import User, authenticate, fold_username, record_action, user_of
from huizong.ledger import store as st
from huizong.ledger.tables import sessions, sign_in_failures, users

IDLE_MINUTES = 30
LONGEST_HOURS = 12
WINDOW_MINUTES = 15
MAX_PER_NAME = 10
MAX_PER_ADDRESS = 50


class SignInRefused(Exception):
    "Sign-in is refused: wrong name or password, or too many attempts"


class Throttled(SignInRefused):
    "Too many wrong passwords for this name or from this address lately"


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    token_hash: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _ago(minutes: float) -> str:
    return (dt.datetime.fromisoformat(now()) - dt.timedelta(minutes=minutes)).isoformat(timespec="seconds")


def _throttled(conn: sa.Connection, username: str, address: str) -> bool:
    since = _ago(WINDOW_MINUTES)
    f = sign_in_failures.c
    by_name = conn.execute(sa.select(sa.func.count()).where(f.username == username, f.at >= since)).scalar_one()
    by_address = conn.execute(sa.select(sa.func.count()).where(f.address == address, f.at >= since)).scalar_one()
    return by_name >= MAX_PER_NAME or by_address >= MAX_PER_ADDRESS


def sign_in(store: st.Store, username: str, password: str, address: str) -> tuple[str, Session]:
    """A new session for a right name and password: (the cookie's token, the session). Raises
    SignInRefused with the words to show, the same for an unknown name as for a wrong password."""
    name = fold_username(username)[:200]
    with store.engine.connect() as conn:
        if _throttled(conn, name, address):
            raise Throttled(f"尝试次数过多，请 {WINDOW_MINUTES} 分钟后再试")
    user = authenticate(store, name, password)
    if user is None:
        with store.begin() as conn:  # kept: raising inside the transaction would roll it back
            conn.execute(sa.insert(sign_in_failures).values(username=name, address=address, at=now()))
        raise SignInRefused("用户名或密码不正确")
    with store.begin() as conn:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        conn.execute(sa.insert(sessions).values(token_hash=_hash(token), user_id=user.id, csrf=csrf, created_at=now(),
                                                seen_at=now(), address=address))  # fmt: skip
        record_action(conn, user.username, "sign-in", target=user.username, division=user.division, address=address,
                      user_id=user.id)  # fmt: skip
    return token, Session(user, csrf, _hash(token))


def resolve(store: st.Store, token: str | None) -> Session | None:
    """The live session a cookie's token names, its idle time renewed; None if there is none."""
    if not token or len(token) > 200:
        return None
    key = _hash(token)
    q = sa.select(sessions.c.csrf, sessions.c.created_at.label("opened_at"), sessions.c.seen_at, sessions.c.ended_at,
                  users).join(users, users.c.id == sessions.c.user_id)  # fmt: skip
    with store.engine.connect() as conn:
        row = conn.execute(q.where(sessions.c.token_hash == key)).first()
    if row is None or row.ended_at is not None:
        return None
    stale = row.seen_at < _ago(IDLE_MINUTES) or row.opened_at < _ago(LONGEST_HOURS * 60)
    if stale or row.disabled_at is not None:
        end(store, key)
        return None
    with store.begin() as conn:
        conn.execute(sa.update(sessions).where(sessions.c.token_hash == key).values(seen_at=now()))
    return Session(user_of(row._mapping), row.csrf, key)


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), str(sent).encode())


def end(store: st.Store, token_hash: str) -> None:
    with store.begin() as conn:
        conn.execute(sa.update(sessions).where(sessions.c.token_hash == token_hash, sessions.c.ended_at.is_(None))
                     .values(ended_at=now()))  # fmt: skip


def end_all(store: st.Store, user_id: int, but: str | None = None) -> None:
    """End every session of a user (a password changed, an account disabled), but `but`."""
    with store.begin() as conn:
        q = sa.update(sessions).where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
        if but is not None:
            q = q.where(sessions.c.token_hash != but)
        conn.execute(q.values(ended_at=now()))


def sign_out(store: st.Store, session: Session, address: str) -> None:
    end(store, session.token_hash)
    with store.begin() as conn:
        record_action(conn, session.user.username, "sign-out", target=session.user.username,
                      division=session.user.division, address=address, user_id=session.user.id)  # fmt: skip
