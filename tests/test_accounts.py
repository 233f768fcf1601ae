"""The review desk's accounts: bound to divisions, argon2id, every change in the journal."""

from __future__ import annotations

import os
import stat

import pytest
from builders import CONFIG
from conftest import cli

from huizong.desk import accounts as acc
from huizong.ledger.store import Store

pytestmark = pytest.mark.both_stores
D = CONFIG.divisions


@pytest.fixture
def store(ws):  # type: ignore[no-untyped-def]
    ws.store.mkdir(parents=True, exist_ok=True)
    return Store.open(ws.settings.db_url)


def test_a_county_account_with_a_first_password(store):  # type: ignore[no-untyped-def]
    user, made = acc.add_user(store, D, " MinLe_01 ", "county", "620722", display_name="王芳", phone="0936-1234567")
    assert (user.username, user.role, user.division, user.must_change, user.disabled) == (
        "minle_01",
        acc.Role.COUNTY,
        "620722",
        True,
        False,
    )
    assert made is not None and len(made) == 12
    with store.engine.connect() as conn:
        [stored] = conn.exec_driver_sql("select password_hash from users").fetchall()
    assert stored[0].startswith("$argon2id$") and made not in stored[0]
    assert acc.authenticate(store, "MINLE_01", made) == user  # the name folded as it was stored
    assert acc.authenticate(store, "minle_01", made + "x") is None
    assert acc.authenticate(store, "nobody", made) is None
    [entry] = acc.journal(store)
    assert (entry["actor"], entry["action"], entry["target"], entry["division"]) == (
        "cli",
        "user-add",
        "minle_01",
        "620722",
    )


@pytest.mark.parametrize(
    "role, division, message",
    [
        ("county", "620700", "县区填报账号须绑定到县级区划，而 620700（张掖市）是地市级区划"),
        ("city", "620722", "市级审核账号须绑定到地市级区划，而 620722（民乐县）是县级区划"),
        ("province", "620700", "省级审核账号须绑定到省级区划，而 620700（张掖市）是地市级区划"),
        ("county", "629999", "未知区划代码“629999”"),
        (
            "reviewer",
            "620700",
            "未知角色“reviewer”：应为 county（县区填报）、city（市级审核）、province（省级审核）、admin（管理员）",
        ),
    ],
)
def test_a_role_binds_to_its_level_of_division(store, role, division, message):  # type: ignore[no-untyped-def]
    with pytest.raises(acc.AccountError) as e:
        acc.add_user(store, D, "someone", role, division)
    assert str(e.value) == message
    assert acc.all_users(store) == []


def test_chosen_passwords_are_checked_and_names_are_unique(store):  # type: ignore[no-untyped-def]
    for password, message in [
        ("short1", "密码至少 10 个字符"),
        ("onlyletters", "密码须包含字母、数字、符号中的至少两类"),
        ("Reviewer-620700", "密码不能与用户名相同"),
    ]:
        with pytest.raises(acc.AccountError, match=message):
            acc.add_user(store, D, "reviewer-620700", "市级审核", "620700", password=password)
    user, made = acc.add_user(store, D, "reviewer-620700", "市级审核", "620700", password="张掖 review 2026")
    assert made is None and user.role is acc.Role.CITY and not user.must_change
    assert acc.authenticate(store, "reviewer-620700", "张掖 review 2026") == user
    with pytest.raises(acc.AccountError, match="用户名已存在：reviewer-620700"):
        acc.add_user(store, D, "Reviewer-620700", "admin", "000000")


def test_who_may_act_on_what(store):  # type: ignore[no-untyped-def]
    county, _ = acc.add_user(store, D, "minle", "county", "620722")
    city, _ = acc.add_user(store, D, "zhangye", "city", "620700")
    province, _ = acc.add_user(store, D, "gansu", "province", "620000")
    admin, _ = acc.add_user(store, D, "root", "admin", "000000")
    assert [acc.may_act_on(u, "620722", D) for u in (county, city, province, admin)] == [True] * 4
    assert [acc.may_act_on(u, "620723", D) for u in (county, city, province, admin)] == [False, True, True, True]
    assert [acc.may_act_on(u, "620102", D) for u in (county, city, province, admin)] == [False, False, True, True]
    assert [acc.may_act_on(u, "620700", D) for u in (county, city, province, admin)] == [False, True, True, True]
    assert [acc.may_act_on(u, "110101", D) for u in (county, city, province, admin)] == [False, False, False, True]
    assert [u.username for u in acc.all_users(store, "620700", D)] == ["zhangye", "minle"]
    gone = acc.disable(store, "minle", "调离岗位")
    assert gone.disabled and not acc.may_act_on(gone, "620722", D)


def test_a_disabled_account_cannot_sign_in_and_the_journal_says_why(store):  # type: ignore[no-untyped-def]
    _, made = acc.add_user(store, D, "minle", "county", "620722")
    with pytest.raises(acc.AccountError, match="停用账号须写明原因"):
        acc.disable(store, "minle", "  ")
    acc.disable(store, "minle", "调离岗位", actor="cli:admin")
    assert acc.authenticate(store, "minle", made or "") is None
    reset = acc.set_password(store, "minle", actor="cli:admin", reason="忘记密码")
    assert reset is not None and acc.authenticate(store, "minle", reset) is None  # still disabled
    assert [(j["action"], j["actor"], j["reason"]) for j in acc.journal(store, "minle")] == [
        ("user-add", "cli", ""),
        ("user-disable", "cli:admin", "调离岗位"),
        ("password-reset", "cli:admin", "忘记密码"),
    ]


def test_an_import_is_all_or_nothing_with_every_problem_by_row(store, tmp_path):  # type: ignore[no-untyped-def]
    bad = tmp_path / "账号.csv"
    bad.write_bytes(
        "用户名,姓名,角色,区划代码,电话\nminle,王芳,县区填报,620722,0936-1\nganzhou,李明,县区填报,620700,\n"
        "minle,张三,县区填报,620723,\n,赵四,市级审核,620700,\n".encode("gb18030")
    )
    with pytest.raises(acc.AccountError) as e:
        acc.add_users(store, D, acc.read_import(bad))
    assert str(e.value) == (
        "第 2 行：县区填报账号须绑定到县级区划，而 620700（张掖市）是地市级区划；第 3 行：用户名“minle”重复；"
        "第 4 行：用户名“”不合规：2–64 个字母、数字、汉字或 _ . @ -"
    )
    assert acc.all_users(store) == [] and acc.journal(store) == []
    good = tmp_path / "accounts.csv"
    good.write_text(
        "\ufeffusername,name,role,division,phone,email\nminle,王芳,county,620722,0936-1,a@b.cn\n"
        "zhangye,李明,city,620700,,\n,,,,,\n",
        encoding="utf-8",
    )
    made = acc.add_users(store, D, acc.read_import(good))
    assert [(u.username, u.display_name, u.phone, u.email, p is not None) for u, p in made] == [
        ("minle", "王芳", "0936-1", "a@b.cn", True),
        ("zhangye", "李明", "", "", True),
    ]
    missing = tmp_path / "missing.csv"
    missing.write_text("用户名,姓名\nminle,王芳\n", encoding="utf-8")
    with pytest.raises(acc.AccountError, match=r"missing\.csv 缺少列：角色、区划代码"):
        acc.read_import(missing)


def test_the_command_line(ws, tmp_path):  # type: ignore[no-untyped-def]
    places = ["--store", str(ws.store), "--db", ws.settings.db_url]
    ran = cli("users", "add", "minle", "--role", "county", "--division", "620722", "--display-name", "王芳", *places)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("已创建账号 minle（县区填报，民乐县 620722）\n初始密码：")
    ran = cli("users", "add", "zhangye", "--role", "county", "--division", "620700", *places)
    assert (ran.returncode, ran.stderr) == (
        2,
        "huizong: 县区填报账号须绑定到县级区划，而 620700（张掖市）是地市级区划\n",
    )
    csv_in = tmp_path / "accounts.csv"
    csv_in.write_text("用户名,角色,区划代码\nzhangye,市级审核,620700\ngaotai,县区填报,620724\n", encoding="utf-8")
    out = tmp_path / "passwords.csv"
    ran = cli("users", "import", str(csv_in), "--passwords-out", str(out), *places)
    assert ran.returncode == 0, ran.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "用户名,姓名,角色,区划代码,初始密码（首次登录后须修改）"
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == ["zhangye,,市级审核,620700", "gaotai,,县区填报,620724"]
    ran = cli("users", "import", str(csv_in), "--passwords-out", str(out), *places)
    assert (ran.returncode, ran.stderr) == (2, f"huizong: {out} 已存在，不会覆盖\n")
    ran = cli("users", "disable", "gaotai", "--reason", "重复账号", *places)
    assert (ran.returncode, ran.stdout) == (0, "已停用账号 gaotai\n")
    ran = cli("users", "list", "--division", "620700", *places)
    assert ran.returncode == 0 and "账号（3 个）" in ran.stdout and "已停用" in ran.stdout and "待改密码" in ran.stdout
