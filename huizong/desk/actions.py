"""What a user may do on the desk, checked against their role and division, each change written
with its journal row in one transaction (`ledger.review`). Every function raises `Refused` with a
sentence for the user when the action is not theirs or not possible now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from huizong.catalog import Config, Division
from huizong.desk import accounts as acc
from huizong.desk import board as bd
from huizong.formats import when
from huizong.ledger import review as rv
from huizong.ledger import store as st
from huizong.ledger.accept import AcceptError, accept_row
from huizong.ledger.runlock import run_lock
from huizong.notify import plan
from huizong.read.periods import parse_token
from huizong.settings import Settings

REVIEWERS = (acc.Role.CITY, acc.Role.PROVINCE, acc.Role.ADMIN)
MAX_REASON = 2000


class Refused(Exception):
    "This user may not do this, or it cannot be done now"


def submission(store: st.Store, config: Config, user: acc.User, sid: int) -> st.SubmissionRow:
    """The ledger row `sid` if `user` may see it (its county is theirs or inside their division);
    the same refusal whether it does not exist or is another division's."""
    row = store.submission(sid)
    owner = rv.owner_of(row) if row is not None else None
    if row is None or owner is None or not acc.may_act_on(user, owner, config.divisions):
        raise Refused("没有这份报送，或您无权查看")
    return row


def _reason(text: str, needed: bool) -> str:
    text = (text or "").strip()
    if needed and not text:
        raise Refused("请填写理由")
    if len(text) > MAX_REASON:
        raise Refused(f"理由不能超过 {MAX_REASON} 字")
    return text


def _reviewer(user: acc.User) -> None:
    if user.role not in REVIEWERS:
        raise Refused("只有审核人员可以审核")


def _locked(store: st.Store, config: Config, row: Mapping[str, Any]) -> rv.Approval | None:
    above = rv.ancestors(str(row["county_code"]), config.divisions)
    found = rv.approvals_of(store, row["form"], above, [row["period"]])
    return next((a for d in above if (a := found.get((row["form"], d, row["period"]))) is not None), None)


def explain(store: st.Store, user: acc.User, row: Mapping[str, Any], texts: Mapping[int, str], address: str) -> int:
    """A county writes its explanation (说明) of its return's warnings; returns how many it wrote."""
    if user.role is not acc.Role.COUNTY:
        raise Refused("说明由报送的县区填写")
    warnings = {int(i["id"]) for i in store.issues_for([row["id"]]) if i["severity"] == "warning"}
    given = {i: _reason(t, False) for i, t in texts.items() if i in warnings and (t or "").strip()}
    if not given:
        raise Refused("请至少为一条警告填写说明")
    with store.begin() as conn:
        rv.explain(conn, int(row["id"]), given, user.username)
        rv.journal(
            conn,
            user.username,
            "explain",
            target=str(row["id"]),
            division=str(row["county_code"]),
            address=address,
            detail={"issues": sorted(given)},
            user_id=user.id,
        )
    return len(given)


def send_back(
    store: st.Store, config: Config, user: acc.User, row: Mapping[str, Any], reason: str, seen: str | None, address: str
) -> None:
    """退回: the reviewer sends a return back to its county with a reason the county reads."""
    _reviewer(user)
    reason = _reason(reason, True)
    if row["status"] not in (st.ACCEPTED, st.REJECTED):
        raise Refused("这份报送已被更新的报表取代，不能退回")
    if row["status"] == st.ACCEPTED and (lock := _locked(store, config, row)) is not None:
        raise Refused(f"本期已于 {when(lock.at)} {lock.zh}，请先撤销审核再退回")
    try:
        with store.begin() as conn:
            rv.set_review(conn, int(row["id"]), rv.RETURNED, user.username, reason, seen)
            rv.journal(
                conn,
                user.username,
                "return",
                target=str(row["id"]),
                division=str(row["county_code"]),
                reason=reason,
                address=address,
                user_id=user.id,
            )
            plan.for_return(conn, config, dict(row), reason, user.display_name or user.username)
    except rv.ReviewError as e:
        raise Refused(str(e)) from e


def accept(
    store: st.Store,
    config: Config,
    settings: Settings,
    user: acc.User,
    row: Mapping[str, Any],
    reason: str,
    seen: str | None,
    address: str,
) -> dict[str, Any]:
    """通过: the reviewer accepts a return. One the rules refused (or a correction held because its
    period is approved) needs a reason; it then becomes the county's current return and the outputs
    of its period are written again."""
    _reviewer(user)
    refused = row["status"] == st.REJECTED
    reason = _reason(reason, refused)
    if row["status"] not in (st.ACCEPTED, st.REJECTED):
        raise Refused("这份报送已被更新的报表取代")

    def record(conn: Any) -> None:
        rv.set_review(conn, int(row["id"]), rv.ACCEPTED, user.username, reason, seen)
        rv.journal(
            conn,
            user.username,
            "accept",
            target=str(row["id"]),
            division=str(row["county_code"] or ""),
            reason=reason,
            address=address,
            user_id=user.id,
        )

    try:
        if not refused:
            with store.begin() as conn:
                record(conn)
            return dict(row)
        from huizong.pipeline import publish_owed

        with run_lock(store, wait=120):
            new = accept_row(store, config, settings, dict(row), reason, user.username, also=record)
        publish_owed(store, config, settings, wait=120)
        return new
    except (rv.ReviewError, AcceptError) as e:
        raise Refused(str(e)) from e


def _division_action(user: acc.User, config: Config, division: str, form: str, period: str) -> Division:
    _reviewer(user)
    f = config.form_by_id.get(form)
    try:
        p = parse_token(period)
    except ValueError:
        p = None
    if f is None or p is None or p.token != period or not f.collects(p):
        raise Refused("没有这张报表或这个报告期")
    d = config.divisions.get(division)
    if d is None or d.level == "county" or not acc.may_act_on(user, division, config.divisions):
        raise Refused("没有这个地区，或您无权审核")
    if user.role in (acc.Role.CITY, acc.Role.PROVINCE) and d.code != user.division:
        raise Refused("您无权审核")
    return d


def approve(
    store: st.Store,
    config: Config,
    settings: Settings,
    user: acc.User,
    division: str,
    form: str,
    period: str,
    address: str,
) -> None:
    """审核通过: only when every county (and every city below a province) is in and reviewed."""
    d = _division_action(user, config, division, form, period)
    b = bd.board(store, config, d, form, [period])
    if not b.complete(period):
        waiting = "、".join(f"{c.part.name}（{c.state.zh}）" for c in b.missing(period)[:10])
        raise Refused(f"还有 {len(b.missing(period))} 个地区未报或未审核通过：{waiting}")
    try:
        with store.begin() as conn:
            rv.approve(conn, form, division, period, user.username)
            rv.journal(
                conn,
                user.username,
                "approve",
                target=f"{form}/{period}",
                division=division,
                address=address,
                user_id=user.id,
            )
    except rv.ReviewError as e:
        raise Refused(str(e)) from e
    _republish(store, config, settings, d, form, period)


def report(
    store: st.Store,
    config: Config,
    settings: Settings,
    user: acc.User,
    division: str,
    form: str,
    period: str,
    version: int,
    address: str,
) -> None:
    """上报: an approved period is reported to the division above."""
    _division_action(user, config, division, form, period)
    try:
        with store.begin() as conn:
            rv.report(conn, form, division, period, user.username, version)
            rv.journal(
                conn,
                user.username,
                "report",
                target=f"{form}/{period}",
                division=division,
                address=address,
                user_id=user.id,
            )
    except rv.ReviewError as e:
        raise Refused(str(e)) from e


def unapprove(
    store: st.Store,
    config: Config,
    settings: Settings,
    user: acc.User,
    division: str,
    form: str,
    period: str,
    version: int,
    reason: str,
    address: str,
) -> None:
    """撤销审核: with a reason; not while the division above has approved the period in its turn."""
    d = _division_action(user, config, division, form, period)
    reason = _reason(reason, True)
    above = rv.ancestors(d.code, config.divisions)
    if any((form, a, period) in rv.approvals_of(store, form, [a], [period]) for a in above):
        raise Refused("上级已审核通过本期，请先由上级撤销")
    try:
        with store.begin() as conn:
            was = rv.unapprove(conn, form, division, period, version)
            rv.journal(
                conn,
                user.username,
                "unapprove",
                target=f"{form}/{period}",
                division=division,
                reason=reason,
                address=address,
                detail={"was": was.state, "by": was.actor, "at": was.at},
                user_id=user.id,
            )
    except rv.ReviewError as e:
        raise Refused(str(e)) from e
    _republish(store, config, settings, d, form, period)


def _republish(store: st.Store, config: Config, settings: Settings, division: Division, form: str, period: str) -> None:
    """Where the totals above a city count only approved cities ([totals] upward = "approved") and
    this desk publishes above a city: write the period's outputs again, an approval having changed
    what they count."""
    region = config.divisions.get(settings.region)
    if config.rules.totals.upward != "approved" or region is None or region.level in ("prefecture", "county"):
        return
    from huizong.ledger import due
    from huizong.pipeline import publish_owed

    counties = {c.code for c in config.divisions.counties_of(division.code)}
    with store.begin() as conn:
        due.queue(conn, {(form, period): counties})
    publish_owed(store, config, settings, wait=120)


def urge(store: st.Store, config: Config, user: acc.User, division: str, form: str, period: str, address: str) -> int:
    """催报: every county of the division that owes the period's return is sent a notice now."""
    d = _division_action(user, config, division, form, period)
    if not config.notices.on("overdue"):
        raise Refused("未设置通知（邮件或群机器人），无法催报；请联系管理员")
    cells = bd.late(bd.board(store, config, d, form, [period]), period)
    made = plan.urge(store, config, cells, form, period, user.username)
    with store.begin() as conn:
        rv.journal(
            conn,
            user.username,
            "urge",
            target=f"{form}/{period}",
            division=division,
            address=address,
            detail={"counties": [c.part.code for c in cells if c.part.level == "county"], "notices": made},
            user_id=user.id,
        )
    return made


def notices_setting(store: st.Store, user: acc.User, on: bool, address: str) -> None:
    """A user turns their own notices on or off."""
    acc.set_notices(store, user, on, address)
