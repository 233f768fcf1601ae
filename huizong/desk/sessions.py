"""Sign-in for the review desk: sessions kept in the ledger, sign-in throttled by name and address.

The browser's cookie holds a random token; the ledger keeps only its SHA-256, so a copy of the
ledger signs no one in. A session ends when its user signs out, when it has been idle for
IDLE_MINUTES or open for LONGEST_HOURS, when the password changes, or when the account is
disabled: a cookie reused after any of these is refused. Each session has its own CSRF token,
which every form carries.

Wrong passwords (at sign-in, and the old password when changing it) are counted per name and
address over WINDOW_MINUTES. From one address, a name gets MAX_PER_PAIR tries, then each further
try waits twice as long as the last (1, 2, 4 … up to WINDOW_MINUTES); an address gets MAX_PER_ADDRESS
tries in all. A name tried MAX_PER_NAME times from everywhere (a flood) is refused from addresses
it has not signed in from lately, so an outsider never locks a county out from its own office; the
flood is written in the journal once per window, for the admin to see.
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
from huizong.ledger.tables import actions, sessions, sign_in_failures, users

IDLE_MINUTES = 30
LONGEST_HOURS = 12
WINDOW_MINUTES = 15
MAX_PER_PAIR = 5
MAX_PER_NAME = 10
MAX_PER_ADDRESS = 50
KNOWN_DAYS = 30  # an address a user signed in from within this many days is theirs


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


def _throttled(conn: sa.Connection, username: str, address: str) -> str | None:
    """Why `username` may not try a password from `address` now (the words to show), or None."""
    since = _ago(WINDOW_MINUTES)
    f = sign_in_failures.c
    by_address = conn.execute(sa.select(sa.func.count()).where(f.address == address, f.at >= since)).scalar_one()
    if by_address >= MAX_PER_ADDRESS:
        return f"本机尝试次数过多，请 {WINDOW_MINUTES} 分钟后再试"
    pair = conn.execute(
        sa.select(sa.func.count(), sa.func.max(f.at)).where(f.username == username, f.address == address, f.at >= since)
    ).one()
    if pair[0] >= MAX_PER_PAIR:
        wait = min(2 ** (pair[0] - MAX_PER_PAIR), WINDOW_MINUTES)
        if pair[1] > _ago(wait):
            return f"密码错误次数过多，请 {wait} 分钟后再试"
    by_name = conn.execute(sa.select(sa.func.count()).where(f.username == username, f.at >= since)).scalar_one()
    if by_name >= MAX_PER_NAME and not _known(conn, username, address):
        return f"该账号近期尝试次数过多，请在常用的办公电脑上登录，或 {WINDOW_MINUTES} 分钟后再试"
    return None


def _known(conn: sa.Connection, username: str, address: str) -> bool:
    """Has `username` signed in from `address` lately (its own office)?"""
    a = actions.c
    q = (
        sa.select(a.id)
        .where(a.actor == username, a.action == "sign-in", a.address == address, a.at >= _ago(KNOWN_DAYS * 24 * 60))
        .limit(1)
    )
    return conn.execute(q).first() is not None


def check_throttle(store: st.Store, username: str, address: str) -> None:
    """Raise Throttled if `username` may not try a password from `address` now."""
    with store.engine.connect() as conn:
        why = _throttled(conn, fold_username(username)[:200], address)
    if why:
        raise Throttled(why)


def count_failure(store: st.Store, username: str, address: str) -> None:
    """One wrong password for `username` from `address`; a flood on the name goes in the journal once a window."""
    name = fold_username(username)[:200]
    with store.begin() as conn:
        conn.execute(sa.insert(sign_in_failures).values(username=name, address=address, at=now()))
        f, a = sign_in_failures.c, actions.c
        since = _ago(WINDOW_MINUTES)
        by_name = conn.execute(sa.select(sa.func.count()).where(f.username == name, f.at >= since)).scalar_one()
        told = conn.execute(
            sa.select(a.id).where(a.action == "sign-in-flood", a.target == name, a.at >= since).limit(1)
        ).first()
        if by_name >= MAX_PER_NAME and told is None:
            record_action(
                conn,
                "system",
                "sign-in-flood",
                target=name,
                address=address,
                reason=f"{WINDOW_MINUTES} 分钟内 {by_name} 次密码错误",
            )


def sign_in(store: st.Store, username: str, password: str, address: str) -> tuple[str, Session]:
    """A new session for a right name and password: (the cookie's token, the session). Raises
    SignInRefused with the words to show, the same for an unknown name as for a wrong password."""
    name = fold_username(username)[:200]
    check_throttle(store, name, address)
    user = authenticate(store, name, password)
    if user is None:
        count_failure(store, name, address)  # its own transaction: raising inside one would roll it back
        raise SignInRefused("用户名或密码不正确")
    with store.begin() as conn:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        conn.execute(
            sa.insert(sessions).values(
                token_hash=_hash(token), user_id=user.id, csrf=csrf, created_at=now(), seen_at=now(), address=address
            )
        )
        record_action(
            conn,
            user.username,
            "sign-in",
            target=user.username,
            division=user.division,
            address=address,
            user_id=user.id,
        )
    return token, Session(user, csrf, _hash(token))


def resolve(store: st.Store, token: str | None) -> Session | None:
    """The live session a cookie's token names, its idle time renewed; None if there is none."""
    if not token or len(token) > 200:
        return None
    key = _hash(token)
    q = sa.select(
        sessions.c.csrf, sessions.c.created_at.label("opened_at"), sessions.c.seen_at, sessions.c.ended_at, users
    ).join(users, users.c.id == sessions.c.user_id)
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
        conn.execute(
            sa.update(sessions)
            .where(sessions.c.token_hash == token_hash, sessions.c.ended_at.is_(None))
            .values(ended_at=now())
        )


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
        record_action(
            conn,
            session.user.username,
            "sign-out",
            target=session.user.username,
            division=session.user.division,
            address=address,
            user_id=session.user.id,
        )
