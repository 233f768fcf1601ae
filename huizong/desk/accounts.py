"""Accounts of the review desk: users bound to a division by a role, passwords hashed with argon2id.

A county filler (县区填报) belongs to a county, a city reviewer (市级审核) to a prefecture, a province
reviewer (省级审核) to a province, an administrator (管理员) to any region, the nation included. What a
user may see and do is always their division and what lies inside it (`may_act_on`).

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile) and
never stored or logged in clear. Every change to an account is an `actions` row: who, what, when,
why and from where, as every desk action will be. Bad input is an `AccountError` with one line in
Chinese; the CLI prints it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from huizong.catalog import NATION, Divisions
from huizong.clock import now
from huizong.ledger import review
from huizong.ledger import store as st
from huizong.ledger.tables import actions, users
from huizong.words import Worded


class AccountError(Exception):
    "An account cannot be made or changed as asked"


class Role(Worded):
    """A user's role: the level of division it binds to, and its Chinese name."""

    COUNTY = "county", "县区填报", ("county",)
    CITY = "city", "市级审核", ("prefecture",)
    PROVINCE = "province", "省级审核", ("province",)
    ADMIN = "admin", "管理员", ("nation", "province", "prefecture", "county")

    __words__ = ("zh", "levels")
    zh: str
    levels: tuple[str, ...]


ROLE_SPELLINGS = {
    **{r.value: r for r in Role},
    **{r.zh: r for r in Role},
    "县区": Role.COUNTY,
    "市级": Role.CITY,
    "省级": Role.PROVINCE,
}
USERNAME = re.compile(r"^[a-z0-9_.@\-\u4e00-\u9fff]{2,64}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    division: str
    phone: str
    email: str
    must_change: bool
    disabled: bool
    notices: bool = True  # whether the user gets notices (they may opt out)


def fold_username(name: str) -> str:
    """The form a username is stored and matched in: NFKC, no surrounding space, lower case."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def check_password(password: str, username: str = "") -> None:
    """A password a person chose: at least MIN_PASSWORD characters, two kinds of character
    (letters, digits, others), not the username."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少 {MIN_PASSWORD} 个字符")
    kinds = sum(bool(re.search(p, password)) for p in (r"[A-Za-z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if kinds < 2:
        raise AccountError("密码须包含字母、数字、符号中的至少两类")
    if username and fold_username(password) == fold_username(username):
        raise AccountError("密码不能与用户名相同")


def new_password() -> str:
    """A first password to hand over (the user must change it): 12 characters, no look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
    while True:
        word = "".join(secrets.choice(alphabet) for _ in range(12))
        if re.search(r"[0-9]", word) and re.search(r"[A-Za-z]", word):
            return word


def role_of(text: str) -> Role:
    role = ROLE_SPELLINGS.get(str(text).strip().lower()) or ROLE_SPELLINGS.get(str(text).strip())
    if role is None:
        raise AccountError(f"未知角色“{text}”：应为 {'、'.join(f'{r.value}（{r.zh}）' for r in Role)}")
    return role


def check_binding(role: Role, division: str, divisions: Divisions) -> None:
    d = divisions.get(division)
    if d is None:
        raise AccountError(f"未知区划代码“{division}”")
    if d.level not in role.levels:
        raise AccountError(
            f"{role.zh}账号须绑定到{'、'.join(_LEVEL_ZH[x] for x in role.levels)}，而 {division}（{d.name}）是{_LEVEL_ZH[d.level]}"
        )


_LEVEL_ZH = {"nation": "全国", "province": "省级区划", "prefecture": "地市级区划", "county": "县级区划"}


def may_act_on(user: User, division: str, divisions: Divisions) -> bool:
    """May `user` see and act on what concerns `division`: their own division or one inside it."""
    if user.disabled:
        return False
    if user.division in (division, NATION.code):
        return True
    d = divisions.get(division)
    while d is not None and d.parent:
        if d.parent == user.division:
            return True
        d = divisions.get(d.parent)
    return False


def user_of(row: Any) -> User:
    """A User from a `users` row (a mapping of its columns)."""
    return User(
        int(row["id"]),
        str(row["username"]),
        str(row["display_name"] or ""),
        Role.of(str(row["role"])),
        str(row["division"]),
        str(row["phone"] or ""),
        str(row["email"] or ""),
        bool(row["must_change"]),
        row["disabled_at"] is not None,
        row.get("notices_off_at") is None,
    )


record_action = review.journal  # one journal for accounts and reviews


def add_user(
    store: st.Store,
    divisions: Divisions,
    username: str,
    role: str | Role,
    division: str,
    *,
    password: str | None = None,
    display_name: str = "",
    phone: str = "",
    email: str = "",
    actor: str = "cli",
    address: str = "",
) -> tuple[User, str | None]:
    """Create an account. Without `password` a first one is made and returned (the user must change
    it at first sign-in); a chosen one must pass `check_password`."""
    [(user, made)] = add_users(
        store,
        divisions,
        [
            {
                "username": username,
                "role": str(role),
                "division": division,
                "display_name": display_name,
                "phone": phone,
                "email": email,
            }
        ],
        passwords=[password],
        actor=actor,
        address=address,
    )
    return user, made


def add_users(
    store: st.Store,
    divisions: Divisions,
    rows: Sequence[Mapping[str, str]],
    *,
    passwords: list[str | None] | None = None,
    actor: str = "cli",
    address: str = "",
) -> list[tuple[User, str | None]]:
    """Create every account of `rows` in one transaction, or none: every problem is listed, each
    with its row (counted from 1), in one AccountError."""
    problems: list[str] = []
    prepared = []
    seen: set[str] = set()
    chosen = passwords or [None] * len(rows)
    for n, (row, password) in enumerate(zip(rows, chosen, strict=True), start=1):
        where = f"第 {n} 行：" if len(rows) > 1 else ""
        try:
            name = fold_username(row.get("username", ""))
            if not USERNAME.match(name):
                raise AccountError(f"用户名“{row.get('username', '')}”不合规：2–64 个字母、数字、汉字或 _ . @ -")
            if name in seen:
                raise AccountError(f"用户名“{name}”重复")
            role = role_of(row.get("role", ""))
            division = str(row.get("division", "")).strip()
            check_binding(role, division, divisions)
            if password is not None:
                check_password(password, name)
        except AccountError as e:
            problems.append(f"{where}{e}")
            continue
        seen.add(name)
        prepared.append((name, role, division, row, password))
    if problems:
        raise AccountError("；".join(problems))
    out: list[tuple[User, str | None]] = []
    with store.begin() as conn:
        taken = {r[0] for r in conn.execute(sa.select(users.c.username).where(users.c.username.in_(list(seen))))}
        if taken:
            raise AccountError(f"用户名已存在：{'、'.join(sorted(taken))}")
        for name, role, division, row, password in prepared:
            made = None if password is not None else new_password()
            values = {
                "username": name,
                "display_name": str(row.get("display_name", "")).strip(),
                "role": role.value,
                "division": division,
                "phone": str(row.get("phone", "")).strip(),
                "email": str(row.get("email", "")).strip(),
                "password_hash": hash_password(password or made or ""),
                "must_change": made is not None,
                "created_at": now(),
                "password_changed_at": None,
                "disabled_at": None,
            }
            uid = st.Store.insert(conn, users, values)
            record_action(
                conn, actor, "user-add", target=name, division=division, address=address, detail={"role": role.value}
            )
            out.append((user_of({**values, "id": uid}), made))
    return out


IMPORT_COLUMNS = {
    "username": ("用户名", "username", "账号"),
    "display_name": ("姓名", "name", "display_name"),
    "role": ("角色", "role"),
    "division": ("区划代码", "division", "行政区划代码"),
    "phone": ("电话", "联系电话", "phone"),
    "email": ("邮箱", "电子邮箱", "email"),
}


def read_import(path: Path) -> list[dict[str, str]]:
    """The rows of an accounts CSV (UTF-8, with or without BOM, or GB18030 as Excel saves it in
    China): 用户名, 姓名, 角色, 区划代码, 电话, 邮箱 (or their English names)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    reader = csv.DictReader(io.StringIO(text))
    header = {h.strip(): h for h in (reader.fieldnames or [])}
    found = {
        key: next((header[s] for s in spellings if s in header), None) for key, spellings in IMPORT_COLUMNS.items()
    }
    missing = [IMPORT_COLUMNS[k][0] for k in ("username", "role", "division") if found[k] is None]
    if missing:
        raise AccountError(f"{path.name} 缺少列：{'、'.join(missing)}")
    return [
        {k: (r.get(col) or "").strip() for k, col in found.items() if col is not None}
        for r in reader
        if any((v or "").strip() for v in r.values())
    ]


def find(store: st.Store, username: str) -> User | None:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == fold_username(username))).first()
    return user_of(row._mapping) if row is not None else None


def all_users(store: st.Store, inside: str | None = None, divisions: Divisions | None = None) -> list[User]:
    """Every account (or those whose division is `inside` or lies inside it), by division then name."""
    with store.engine.connect() as conn:
        found = [
            user_of(r._mapping) for r in conn.execute(sa.select(users).order_by(users.c.division, users.c.username))
        ]
    if inside is None or divisions is None:
        return found
    probe = User(0, "", "", Role.ADMIN, inside, "", "", False, False)
    return [u for u in found if may_act_on(probe, u.division, divisions)]


_DUMMY: list[str] = []  # a hash to verify against for unknown names: the same time either way


def authenticate(store: st.Store, username: str, password: str) -> User | None:
    """The user, if the name is known, the account enabled and the password right; None otherwise,
    in about the same time whichever it is. A hash made with older parameters is renewed."""
    from argon2.exceptions import InvalidHashError, VerificationError

    ph = _hasher()
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == fold_username(username))).first()
    if row is None:
        if not _DUMMY:
            _DUMMY.append(ph.hash(new_password()))
        with contextlib.suppress(VerificationError, InvalidHashError):
            ph.verify(_DUMMY[0], password)
        return None
    try:
        ph.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if row.disabled_at is not None:
        return None
    if ph.check_needs_rehash(row.password_hash):
        with store.begin() as conn:
            conn.execute(sa.update(users).where(users.c.id == row.id).values(password_hash=ph.hash(password)))
    return user_of(row._mapping)


def set_password(
    store: st.Store,
    username: str,
    password: str | None = None,
    *,
    actor: str = "cli",
    address: str = "",
    reason: str = "",
) -> str | None:
    """Set a user's password: a chosen one (checked; the user need not change it), or, without one,
    a new first password returned (a reset: the user must change it at next sign-in)."""
    user = find(store, username)
    if user is None:
        raise AccountError(f"没有用户“{username}”")
    if password is not None:
        check_password(password, user.username)
    made = None if password is not None else new_password()
    with store.begin() as conn:
        conn.execute(
            sa.update(users)
            .where(users.c.id == user.id)
            .values(
                password_hash=hash_password(password or made or ""),
                must_change=made is not None,
                password_changed_at=now(),
            )
        )
        record_action(
            conn,
            actor,
            "password-reset" if made else "password-set",
            target=user.username,
            division=user.division,
            reason=reason,
            address=address,
        )
    return made


def change_own_password(store: st.Store, username: str, old: str, new: str, address: str = "") -> User:
    """A user changes their own password: the old one must be right, the new one pass `check_password`."""
    user = authenticate(store, username, old)
    if user is None:
        raise AccountError("原密码不正确")
    if new == old:
        raise AccountError("新密码不能与原密码相同")
    set_password(store, user.username, new, actor=user.username, address=address)
    found = find(store, user.username)
    assert found is not None
    return found


def disable(store: st.Store, username: str, reason: str, *, actor: str = "cli", address: str = "") -> User:
    """Disable an account (it can no longer sign in; its actions stay in the journal): with a reason."""
    if not reason.strip():
        raise AccountError("停用账号须写明原因")
    user = find(store, username)
    if user is None:
        raise AccountError(f"没有用户“{username}”")
    with store.begin() as conn:
        conn.execute(
            sa.update(users).where(users.c.id == user.id, users.c.disabled_at.is_(None)).values(disabled_at=now())
        )
        record_action(
            conn,
            actor,
            "user-disable",
            target=user.username,
            division=user.division,
            reason=reason.strip(),
            address=address,
        )
    found = find(store, username)
    assert found is not None
    return found


def journal(store: st.Store, target: str | None = None) -> list[dict[str, Any]]:
    """The desk's journal, oldest first (only the rows about `target`, if given)."""
    q = sa.select(actions).order_by(actions.c.id)
    if target is not None:
        q = q.where(actions.c.target == target)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def write_passwords(path: Path, made: Iterable[tuple[User, str | None]]) -> Path:
    """The first passwords of new accounts, for the administrator to hand over: a CSV readable by
    its owner only."""
    import os

    rows = [(u.username, u.display_name, u.role.zh, u.division, p) for u, p in made if p]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["用户名", "姓名", "角色", "区划代码", "初始密码（首次登录后须修改）"])
    w.writerows(rows)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8-sig") as f:
        f.write(buf.getvalue())
    return path


def contacts(store: st.Store, divisions: Sequence[str]) -> dict[str, list[User]]:
    """division -> its active users (with their phone and e-mail): whom to call for a late return."""
    out: dict[str, list[User]] = {}
    codes = list(divisions)
    for part in st.chunks(codes):
        q = sa.select(users).where(users.c.division.in_(part), users.c.disabled_at.is_(None))
        for r in store._all(q.order_by(users.c.username)):
            out.setdefault(r["division"], []).append(user_of(r))
    return out


def set_notices(store: st.Store, user: User, on: bool, address: str = "") -> None:
    """A user's own choice: notices by e-mail, or none."""
    with store.begin() as conn:
        conn.execute(sa.update(users).where(users.c.id == user.id).values(notices_off_at=None if on else now()))
        record_action(
            conn,
            user.username,
            "notices-on" if on else "notices-off",
            target=user.username,
            division=user.division,
            address=address,
        )
