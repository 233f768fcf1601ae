"""`huizong`: the one command. The only place that prints or exits.

Prefect is imported only by `run` when it runs; Great Expectations only where validation
runs; so `huizong --help` and `huizong template` start fast.
"""

from __future__ import annotations

import argparse
import errno
import gc
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from huizong.settings import Settings

STATUS_STYLE = {"accepted": "green", "rejected": "red", "duplicate": "yellow", "superseded": "cyan", "ignored": "dim"}


def _console():
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _places(p: argparse.ArgumentParser, *which: str) -> None:
    """The folder and ledger arguments a command takes, worded the same everywhere."""
    helps = {
        "inputs": "inbox folder (default inputs/)",
        "outputs": "outputs folder (default outputs/)",
        "store": "folder for the kept originals and the default SQLite ledger (default store/)",
        "db": "SQLAlchemy URL of the ledger (default sqlite:///store/huizong.db)",
    }
    for name in which:
        p.add_argument(f"--{name}", help=helps[name])


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--region",
        "--city",
        dest="region",
        help="region: a prefecture (the city), a province, or 000000 for the nation; "
        "default 620700 or $HUIZONG_REGION ($HUIZONG_CITY)",
    )
    p.add_argument("--config", help="configuration folder (catalog, suites); default: the repo's expectations/")


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(
        inputs=args.inputs,
        outputs=args.outputs,
        store=args.store,
        db_url=args.db,
        region=args.region,
        config=args.config,
        docs="0" if args.no_docs else None,
        dask=args.dask,
    )
    if settings.dask and args.no_prefect:
        print("huizong: --dask 需要 Prefect 流程运行，不能与 --no-prefect 同用", file=sys.stderr)
        return 2
    console = _console()
    from huizong.ledger.runlock import RunLocked

    try:
        rows, counts, outputs, deferred = _run(args, settings, console)
    except RunLocked as e:
        print(f"huizong: {e}", file=sys.stderr)
        return 3
    _print_run(console, rows, counts, outputs, deferred)
    return 0


def _run(args: argparse.Namespace, settings: Settings, console):
    if args.no_prefect:
        from huizong.pipeline import run_batch

        if not console.is_terminal:  # cron, a pipe: no progress bar to draw
            s = run_batch(settings, wait=args.wait, republish=args.republish)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task("等待运行锁", total=None)

                def progress(step: str, done: int, total: int) -> None:
                    bar.update(task, description=step, completed=done, total=total or None)

                s = run_batch(settings, wait=args.wait, progress=progress, republish=args.republish)
        rows = [(d.inbound.rel, d.status, d.errors, d.warnings, d.reason) for d in s.decisions]
        counts, outputs, deferred = s.counts, [str(p) for p in s.outputs], s.deferred
    else:
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        # the first start of a temporary server creates its database: far more than Prefect's 20 s
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
        if args.no_docs:
            os.environ["HUIZONG_DOCS"] = "0"  # the flow resolves its settings from the environment too
        from flows.nightly import flow_for, without_heartbeat

        huizong_run = flow_for(settings.dask)
        if settings.dask:
            console.print(f"读取在 Dask 集群上进行：{settings.dask}", markup=False)
        api = os.environ.get("PREFECT_API_URL")
        console.print(
            f"Prefect 服务：{api}" if api else "未设置 PREFECT_API_URL：为本次运行启动临时 Prefect 服务（约 20 秒）"
        )
        with console.status("运行中（Prefect）…"), without_heartbeat():
            result = huizong_run(
                inputs=str(settings.inputs),
                outputs=str(settings.outputs),
                store=str(settings.store),
                db_url=settings.db_url,
                region=settings.region,
                config=str(settings.config),
                wait=args.wait,
                republish=args.republish,
            )
        rows, counts, outputs = result["decisions"], result["counts"], result["outputs"]
        deferred = result.get("deferred", [])
    return rows, counts, outputs, deferred


def _print_run(console, rows, counts, outputs, deferred=()) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="本次运行", show_lines=False)
    for col in ("文件", "状态", "错误", "警告", "说明"):
        table.add_column(col)
    for rel, status, errors, warnings, reason in rows:
        table.add_row(
            escape(rel),
            f"[{STATUS_STYLE.get(status, '')}]{status}[/]",
            str(errors),
            str(warnings),
            escape(reason or ""),
        )
    if rows:
        console.print(table)
    else:
        console.print("收件箱中没有新文件。")
    console.print("  ".join(f"{k}: {v}" for k, v in counts.items()))
    for name in deferred:
        console.print(f"  仍在写入，留待下次运行：{name}", markup=False)
    for p in outputs:
        console.print(f"  → {p}")


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from huizong.catalog import Config
    from huizong.issues import FLAT_COLUMNS, Report
    from huizong.pipeline import can_mark_up, validate
    from huizong.publish.feedback import write_feedback
    from huizong.read.worker import ReadJob, read_bounded

    settings = Settings.from_env(store=args.store, db_url=args.db, region=args.region, config=args.config)
    config = Config.load(settings.config)
    paths = [Path(f) for f in args.files]
    for p in paths:
        if not p.is_file():
            print(f"huizong: 文件不存在：{shown(p)}", file=sys.stderr)
            return 2
    returns = read_bounded([ReadJob(p, shown(p)) for p in paths], config, settings.region)
    store = _existing_store(settings, args.db)
    by_file = validate(returns, config, settings.region, store)
    console = _console()
    words = _VALIDATE_WORDS[args.lang]
    reports = []
    for ret in returns:
        found = by_file.get(ret.file, [])
        report = Report(ret.file, found)
        reports.append(report)
        if args.feedback is not None and found:
            path = paths[returns.index(ret)]
            target = _feedback_target(path, args.feedback)
            div = config.divisions.get(ret.county_code)
            who = " ".join(x for x in (div.name if div else None, ret.period.zh if ret.period else None) if x)
            fmt = ret.format if can_mark_up(path, found) else None
            write_feedback(path, fmt, Path(ret.file).name, who, found, target)
            console.print(words["feedback"].format(target=target))
        if args.json:
            continue
        who = f"{ret.county_code or '?'} {ret.period.token if ret.period else '?'}"
        verdict = words["valid"] if report.valid else words["refused"]
        counts = words["counts"].format(errors=len(report.errors), warnings=len(report.warnings))
        console.print(f"{ret.file}  {who}  {verdict}  {counts}")
        for i in found:
            sev = words["error"] if i.severity == "error" else words["warning"]
            text = (i.message_en or i.message) if args.lang == "en" else i.message
            console.print(f"  {sev} {escape(i.where or '-')}  {escape(text)}  [dim]({i.code})[/]")
    if args.json:
        import json

        rows = [dict(zip(FLAT_COLUMNS, row, strict=True)) for r in reports for row in r.flatten()]
        print(json.dumps({"valid": all(r.valid for r in reports), "issues": rows}, ensure_ascii=False, default=str))
    return 0 if all(r.valid for r in reports) else 1


_VALIDATE_WORDS = {  # what `validate` prints around the issues' messages, in the language asked for
    "zh": {
        "valid": "[green]可接收[/]",
        "refused": "[red]退回[/]",
        "counts": "错误 {errors}，警告 {warnings}",
        "error": "[red]错误[/]",
        "warning": "[yellow]警告[/]",
        "feedback": "反馈表：{target}",
    },
    "en": {
        "valid": "[green]acceptable[/]",
        "refused": "[red]refused[/]",
        "counts": "errors {errors}, warnings {warnings}",
        "error": "[red]error[/]",
        "warning": "[yellow]warning[/]",
        "feedback": "feedback workbook: {target}",
    },
}


def shown(path: Path) -> str:
    """A path as the user should see it, whatever bytes its name holds."""
    from huizong.ledger.inbox import readable_name

    return readable_name(os.fsencode(path))


def _feedback_target(p: Path, folder: str) -> Path:
    """<stem>_反馈.xlsx beside the file, or in the folder given to --feedback; a safe, short name."""
    from huizong.ledger.inbox import readable_name, safe_component

    stem = safe_component(readable_name(os.fsencode(p.stem)), 150)
    return (Path(folder) if folder else p.parent) / f"{stem}_反馈.xlsx"


def _existing_store(settings: Settings, db: str | None):
    """The ledger if there is one; None rather than creating it (validate and template change nothing)."""
    if not db and not (settings.store / "huizong.db").exists():
        return None
    from huizong.ledger.store import Store

    return Store.open(settings.db_url)


def cmd_template(args: argparse.Namespace) -> int:
    from huizong.catalog import Config
    from huizong.publish.template import write_template
    from huizong.read.periods import parse_token

    settings = Settings.from_env(
        outputs=args.outputs, store=args.store, db_url=args.db, region=args.region, config=args.config
    )
    config = Config.load(settings.config)
    div = config.divisions.get(args.county)
    if div is None or div.level != "county":
        print(f"huizong: {args.county} 不是县级行政区划代码", file=sys.stderr)
        return 2
    try:
        period = parse_token(args.period)
    except ValueError as e:
        print(f"huizong: {e}", file=sys.stderr)
        return 2
    form = config.form_by_id.get(args.form) if args.form else config.forms[0]
    if form is None:
        print(f"huizong: 没有报表 {args.form}（有：{'、'.join(f.id for f in config.forms)}）", file=sys.stderr)
        return 2
    if not form.collects(period):
        print(
            f"huizong: {period.token}（{period.zh}）不是“{form.short_name}”的报告期（应为 {form.periods_zh}）",
            file=sys.stderr,
        )
        return 2
    from huizong.publish.layout import Layout

    out = Path(args.output) if args.output else Layout(settings.outputs).template(div.name, period.token, form)
    out.parent.mkdir(parents=True, exist_ok=True)
    if form.indicators is not None:
        write_template(out, config.for_form(form.id), div, period, _existing_store(settings, args.db))
    else:
        from huizong.publish.listtemplate import write_list_template

        write_list_template(out, config, form, div, period)
    print(out)
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    import getpass

    from huizong.catalog import Config
    from huizong.ledger.accept import AcceptError, accept_refused
    from huizong.ledger.runlock import RunLocked, run_lock
    from huizong.pipeline import open_store, publish_owed

    settings = Settings.from_env(
        outputs=args.outputs, store=args.store, db_url=args.db, region=args.region, config=args.config
    )
    config = Config.load(settings.config)
    store = open_store(settings)
    try:
        with run_lock(store, wait=args.wait):
            row = accept_refused(store, config, settings, args.file, args.reason, args.by or getpass.getuser())
        publish_owed(store, config, settings, wait=args.wait)
    except AcceptError as e:
        print(f"huizong: {e}", file=sys.stderr)
        return 2
    except RunLocked as e:
        print(f"huizong: {e}", file=sys.stderr)
        return 3
    print(f"已接收第 {row['id']} 号报送 {row['file']}（{row['county_code']} {row['period']}）：{row['reason']}")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    """The review desk's accounts: add, import, list, disable, password."""
    import getpass

    from huizong.catalog import Config
    from huizong.desk import accounts as acc
    from huizong.pipeline import open_store

    settings = Settings.from_env(store=args.store, db_url=args.db, region=args.region, config=args.config)
    config = Config.load(settings.config)
    store = open_store(settings)
    actor = f"cli:{getpass.getuser()}"
    try:
        if args.action == "add":
            password = _password_from(args) if args.password_stdin else None
            user, made = acc.add_user(
                store,
                config.divisions,
                args.name,
                args.role or "",
                args.division or "",
                password=password,
                display_name=args.display_name or "",
                phone=args.phone or "",
                email=args.email or "",
                actor=actor,
            )
            print(f"已创建账号 {user.username}（{user.role.zh}，{_division_name(config, user.division)}）")
            if made:
                print(f"初始密码：{made}（请当面或以安全方式交给本人；首次登录后须修改）")
        elif args.action == "import":
            if args.passwords_out is None:
                print("huizong: 导入账号须用 --passwords-out 指定初始密码的保存文件", file=sys.stderr)
                return 2
            if Path(args.passwords_out).exists():
                print(f"huizong: {args.passwords_out} 已存在，不会覆盖", file=sys.stderr)
                return 2
            created = acc.add_users(store, config.divisions, acc.read_import(Path(args.name)), actor=actor)
            acc.write_passwords(Path(args.passwords_out), created)
            print(f"已创建 {len(created)} 个账号；初始密码在 {args.passwords_out}（仅本人可读），分发后请删除")
        elif args.action == "list":
            _print_users(acc.all_users(store, args.division, config.divisions), config)
        elif args.action == "disable":
            user = acc.disable(store, args.name, args.reason or "", actor=actor)
            print(f"已停用账号 {user.username}")
        elif args.action == "password":
            made = acc.set_password(
                store,
                args.name,
                _password_from(args) if args.password_stdin else None,
                actor=actor,
                reason=args.reason or "",
            )
            print(
                f"已重置 {acc.fold_username(args.name)} 的密码：{made}（首次登录后须修改）"
                if made
                else f"已设置 {acc.fold_username(args.name)} 的密码"
            )
    except acc.AccountError as e:
        print(f"huizong: {e}", file=sys.stderr)
        return 2
    return 0


def _password_from(args: argparse.Namespace) -> str:
    """A password read from standard input (its first line), never from the command line."""
    return sys.stdin.readline().rstrip("\r\n")


def _division_name(config: Any, code: str) -> str:
    d = config.divisions.get(code)
    return f"{d.name} {code}" if d else code


def _print_users(found: list[Any], config: Any) -> None:
    from rich.table import Table

    table = Table(title=f"账号（{len(found)} 个）")
    for col in ("用户名", "姓名", "角色", "区划", "电话", "状态"):
        table.add_column(col)
    for u in found:
        state = "已停用" if u.disabled else ("待改密码" if u.must_change else "正常")
        table.add_row(u.username, u.display_name, u.role.zh, _division_name(config, u.division), u.phone, state)
    _console().print(table)


def cmd_web(args: argparse.Namespace) -> int:
    """The review desk in a browser, on HOST:PORT; behind a reverse proxy (TLS) in production."""
    import uvicorn

    from huizong.catalog import Config
    from huizong.desk.web import create_app
    from huizong.pipeline import open_store

    settings = Settings.from_env(
        inputs=args.inputs,
        outputs=args.outputs,
        store=args.store,
        db_url=args.db,
        region=args.region,
        config=args.config,
    )
    app = create_app(settings, Config.load(settings.config), open_store(settings), notify=not args.no_notices)
    print(f"审核台：http://{args.host}:{args.port}/（Ctrl-C 停止）")
    proxies = args.proxy or ""  # none by default: forwarded headers believed only from a proxy named here
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        log_level="warning",
        server_header=False,
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from rich.table import Table

    from huizong.catalog import Config
    from huizong.publish.reporting import matrix
    from huizong.read.periods import parse_token

    settings = Settings.from_env(store=args.store, db_url=args.db, region=args.region, config=args.config)
    config = Config.load(settings.config)
    store = _existing_store(settings, args.db)
    if store is None:
        print("huizong: 还没有账本（尚未运行过 huizong run）", file=sys.stderr)
        return 2
    period = None
    if args.period:
        try:
            period = parse_token(args.period)
        except ValueError as e:
            print(f"huizong: {e}", file=sys.stderr)
            return 2
    if args.form and args.form not in config.form_by_id:
        print(f"huizong: 没有报表 {args.form}（有：{'、'.join(config.form_by_id)}）", file=sys.stderr)
        return 2
    forms = [config.form_by_id[args.form]] if args.form else list(config.forms)
    if period is not None:  # the forms that collect this period
        forms = [f for f in forms if f.collects(period)]
    counties = [c.code for c in config.divisions.counties_of(settings.region)]
    shown = [f for f in forms if args.form or f is config.forms[0] or store.periods(counties, form=f.id)]
    region = config.divisions.get(settings.region)
    for form in shown:
        m = matrix(store, config.for_form(form.id), settings.region, [period.token] if period else None)
        words = "" if form is config.forms[0] else form.short_name
        table = Table(title=f"{region.name if region else settings.region}{words}报送情况")
        table.add_column("县区")
        for p in m.periods:
            table.add_column(f"{parse_token(p).zh}\n截止 {m.cells[(m.counties[0].code, p)].due:%Y-%m-%d}")
        for c in m.counties:
            cells = [m.cells[(c.code, p)] for p in m.periods]
            table.add_row(c.name, *[f"[{x.status.terminal}]{x.zh}[/]" for x in cells])
        table.add_row("按时/已报/应报", *["/".join(str(n) for n in m.rate(p)) for p in m.periods])
        _console().print(table)
    _console().print(_growth(store, settings))
    return 0


def _growth(store: Any, settings: Settings) -> str:
    """How the store grows: the originals it keeps, those of the last 7 days, and the disk's room."""
    import datetime as dt

    from huizong.clock import now

    since = (dt.datetime.fromisoformat(now()) - dt.timedelta(days=7)).isoformat(timespec="seconds")
    n, size, n7, size7 = store.growth(since)
    try:
        free = f"，磁盘剩余 {shutil.disk_usage(settings.store).free / (1 << 30):,.1f} GB"
    except OSError:
        free = ""
    mb = 1 << 20
    return f"原件库：{n:,} 份，共 {size / mb:,.1f} MB；近 7 天新增 {n7:,} 份、{size7 / mb:,.1f} MB{free}"


def cmd_history(args: argparse.Namespace) -> int:
    import json

    from rich.table import Table

    from huizong.ledger import store as st

    settings = Settings.from_env(store=args.store, db_url=args.db)
    store = _existing_store(settings, args.db)
    if store is None:
        print("huizong: 还没有账本（尚未运行过 huizong run）", file=sys.stderr)
        return 2
    table = Table(title="运行记录")
    for col in ("编号", "开始", "结束", "文件数", "结果"):
        table.add_column(col)
    for r in store.runs()[-args.limit :]:
        summary = json.loads(r["summary"]) if r["summary"] else {}
        # what was left where it lay (an Excel/WPS lock file, a link, a hidden file) is no file sent
        ignored = int(summary.get(st.IGNORED, 0)) if isinstance(summary.get(st.IGNORED, 0), int) else 0
        if summary.get("interrupted"):
            result = "[red]中断（已由后续运行补完）[/]"
        elif r["finished_at"] is None:
            result = "[yellow]进行中或已中断[/]"
        else:
            result = "，".join(f"{k} {v}" for k, v in summary.items() if k != st.IGNORED) or "没有新文件"
            if ignored:
                result += f"（另忽略 {ignored} 个临时或非报表文件）"
        table.add_row(
            str(r["id"]), r["started_at"], r["finished_at"] or "", str(max(0, (r["n_files"] or 0) - ignored)), result
        )
    _console().print(table)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from huizong.settings import seconds

    settings = Settings.from_env(
        inputs=args.inputs,
        outputs=args.outputs,
        store=args.store,
        db_url=args.db,
        region=args.region,
        config=args.config,
        dask=args.dask,
    )
    settle = seconds(
        args.settle if args.settle is not None else os.environ.get("HUIZONG_SETTLE", "30"),
        "--settle" if args.settle is not None else "HUIZONG_SETTLE",
    )
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        from flows.server import ServerFailed, start_local_server

        print("启动本地 Prefect 服务…", flush=True)
        try:
            server = start_local_server()
        except ServerFailed as e:
            print(f"huizong: {e}", file=sys.stderr)
            return 2
        print(f"Prefect 服务：{os.environ['PREFECT_API_URL']}", flush=True)
        print(f"Prefect 界面：{os.environ['PREFECT_API_URL'].removesuffix('/api')}", flush=True)
    desk = _start_desk(args) if args.web else None
    try:
        from flows.serve import serve_forever

        serve_forever(settings, args.cron, args.timezone, settle, say=lambda m: print(m, flush=True))
    finally:
        for child in (desk, server):
            if child is not None:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except Exception:
                    child.kill()
    return 0


def _start_desk(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """`serve --web [HOST:]PORT`: the review desk beside the schedule, in a child process of its own
    (neither can take the other down); stopped with it."""
    host, _, port = str(args.web).rpartition(":")
    argv = [sys.executable, "-m", "huizong.cli", "web", "--host", host or "127.0.0.1", "--port", port, "--no-notices"]
    for name in ("inputs", "outputs", "store", "db", "region", "config", "proxy"):
        if getattr(args, name, None):
            argv += [f"--{name}", str(getattr(args, name))]
    return subprocess.Popen(argv)  # which says its address


def cmd_notify(args: argparse.Namespace) -> int:
    """`notify`: the outbox's counts and latest notices; `notify send`: plan and send what is due
    now; `notify test`: one message to an address or a robot, sent at once, to check the settings."""
    from huizong.catalog import Config
    from huizong.formats import when
    from huizong.notify import outbox
    from huizong.notify.channels import SendFailed, send_email, send_robot
    from huizong.notify.plan import SAMPLE_TEST
    from huizong.notify.sender import Sender

    settings = Settings.from_env(store=args.store, db_url=args.db, region=args.region, config=args.config)
    config = Config.load(settings.config)
    n = config.notices
    if args.action == "test":
        if not (args.to or args.robot):
            print("huizong: notify test 需要 --to 邮箱 或 --robot 机器人名称", file=sys.stderr)
            return 2
        subject, body = n.render("test", SAMPLE_TEST(config, settings.region))
        try:
            if args.to:
                send_email(n.email, args.to, subject, body, f"<test-{os.getpid()}@huizong>", n.send.timeout)
                print(f"已发送测试邮件到 {args.to}（经 {n.email.host}:{n.email.port}）")
            if args.robot:
                robot = next((r for r in n.robots if r.name == args.robot), None)
                if robot is None:
                    print(
                        f"huizong: notices.toml 中没有机器人“{args.robot}”（有：{'、'.join(r.name for r in n.robots) or '无'}）",
                        file=sys.stderr,
                    )
                    return 2
                send_robot(robot, subject, body, n.send.timeout)
                print(f"已发送测试消息到机器人“{robot.name}”")
        except SendFailed as e:
            print(f"huizong: 发送失败：{e}", file=sys.stderr)
            return 1
        return 0
    store = _existing_store(settings, args.db)
    if store is None:
        print("huizong: 还没有账本（尚未运行过 huizong run）", file=sys.stderr)
        return 2
    if args.action == "send":
        made, sent, failed = Sender(store, lambda: config, settings.region).tick(everything=True)
        print(
            f"新排队 {made} 条，已发送 {sent} 条，发送失败 {failed} 次"
            + ("" if n.enabled else "（未设置邮件服务器或群机器人）")
        )
        return 0
    counts = outbox.counts(store)
    words = {"queued": "待发", "sending": "发送中", "sent": "已发送", "failed": "失败"}
    print(
        "通知："
        + ("，".join(f"{words.get(k, k)} {v}" for k, v in sorted(counts.items())) or "无")
        + ("" if n.enabled else "（未设置邮件服务器或群机器人，不会发送）")
    )
    for r in outbox.recent(store, args.limit):
        print(
            f"{r['id']:>6}  {when(r['created_at'])}  {words.get(r['state'], r['state']):<4}  "
            f"{r['kind']:<8}  {r['address']}  {r['subject']}" + (f"  （{r['error']}）" if r["error"] else "")
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`demo`: 张掖市's first half of 2024 into the inbox, each file with the moment the story has it
    arrive (recorded in the ledger as when it was first seen, so the next run receives it then);
    `--form`: one form's batch only, arriving now."""
    from huizong.demo import write_contract_demo, write_demo, write_half_year

    settings = Settings.from_env(inputs=args.inputs, store=args.store, db_url=args.db)
    inbox = settings.inputs
    if args.form is not None:
        written = write_demo(inbox) if args.form == "key-indicators" else write_contract_demo(inbox)
        for p in written:
            print(p)
        return 0
    from huizong.ledger import inbox as ib
    from huizong.pipeline import open_store

    arrivals = write_half_year(inbox)
    found = {f.rel: f for f in ib.scan(inbox)}
    store = open_store(settings)
    for path, at in arrivals.items():  # every arrival recorded before a word is printed
        f = found.get(path.relative_to(inbox).as_posix())
        if f is not None:
            store.sight([(f.rel, f.size, f.mtime_ns)], at)
    store.engine.dispose()
    for path, at in arrivals.items():
        print(f"{at[:16].replace('T', ' ')}  {path}")
    return 0


_FREQUENCY_ZH = {"year": "每年", "half": "每半年", "quarter": "每季", "month": "每月", "cumulative": "季度累计"}


def cmd_forms(args: argparse.Namespace) -> int:
    """`huizong forms`: the forms a bureau collects; `huizong forms check DIR`: one definition checked;
    `huizong forms new FILE.xlsx`: a definition guessed from the blank form, written, checked and read back."""
    from rich.table import Table

    from huizong.catalog import CatalogError, Config
    from huizong.forms.load import FormError
    from huizong.read.periods import KIND_ZH

    settings = Settings.from_env(config=args.config)
    if args.action == "new":
        return _forms_new(args, settings)
    if args.action == "check":
        if not args.dir:
            print(
                "huizong: forms check 需要报表定义文件夹，如 huizong forms check expectations/forms/tech-contracts",
                file=sys.stderr,
            )
            return 2
        try:
            form, catalog = _check_form(Path(args.dir), settings.config)
        except (FormError, CatalogError) as e:
            print(f"huizong: {e}", file=sys.stderr)
            return 2
        parts = [p for p, on in (("指标表", form.indicators), ("明细表", form.list)) if on]
        counted = "个指标" if form.indicators else "个汇总数"  # what `huizong forms` lists as 指标/汇总数
        from huizong.publish.report import templates

        drafts = f"，{len(templates(form.root))} 个报告稿模板" if templates(form.root) else ""
        print(
            f"{form.id}: {form.name} 定义正确（{'、'.join(parts)}；{len(catalog)} {counted}，{len(form.rules)} 条规则"
            f"{drafts}）"
        )
        return 0
    config = Config.load(settings.config)
    table = Table(title="报表定义（expectations/forms/）")
    for col in ("代码", "名称", "表号", "报送频率", "组成", "指标/汇总数", "规则", "截止"):
        table.add_column(col)
    for form in config.forms:
        due: dict[str, Any] = dict(form.due or config.deadlines)
        due_text = (
            (
                f"次月 {due['month'][1]} 日"
                if due["month"][0] == 1
                else f"期满后第 {due['month'][0]} 个月 {due['month'][1]} 日"
            )
            if "month" in due
            else "、".join(f"{KIND_ZH[k]} {due[k]}" for k in form.periods)
        )
        made_of = "、".join(
            p
            for p, on in (("指标表", form.indicators), (f"明细表（{form.list.title}）" if form.list else "", form.list))
            if on
        )
        table.add_row(
            form.id,
            form.name,
            form.table_no,
            _FREQUENCY_ZH[form.frequency]
            + f"（{'、'.join(KIND_ZH[k] for k in form.periods) if form.frequency != 'month' else '1–12月'}）",
            made_of,
            str(len(config.catalogs[form.id])),
            str(len(form.rules)),
            due_text,
        )
    _console().print(table)
    return 0


def _check_form(folder: Path, config_root: Path) -> tuple[Any, Any]:
    """`forms check`: one definition read and its names checked against the other forms, with its
    catalog (indicators, or the measures of a list); raises FormError or CatalogError with the one
    line to print."""
    from huizong.catalog import Catalog, Config
    from huizong.forms.load import FormError, check_names, read_form

    config = Config.load(config_root)
    form = read_form(folder, config_root if not (folder.parent.parent / "catalog").is_dir() else folder.parent.parent)
    others = [f for f in config.forms if f.id != form.id]
    catalog = Catalog.load(form.indicators) if form.indicators else Catalog.of_measures(form)
    codes = {f.id: [i.code for i in config.catalogs[f.id]] for f in others} | {form.id: [i.code for i in catalog]}
    check_names([*others, form], codes)
    from huizong.catalog import FormConfig
    from huizong.publish import report

    view = FormConfig(config, form, catalog, dict(form.due) if form.due else config.deadlines)
    wrong = [line for tpl in report.templates(folder) for line in report.check(tpl, view)]
    if wrong:  # a report template (报告稿*.docx) that cannot be filled: each named with its place
        raise FormError("\n".join(f"{folder / line}" for line in wrong))
    return form, catalog


_TYPE_ZH = {
    "seq": "序号",
    "text": "文字",
    "id": "编号",
    "number": "数值",
    "integer": "整数",
    "date": "日期",
    "choice": "选项",
    "uscc": "信用代码",
}


def _forms_new(args: argparse.Namespace, settings: Settings) -> int:
    """`forms new FILE`: write the guessed definition, check it as `forms check` does, read the
    file back with it, and say what was guessed and what to review."""
    import time

    from rich.markup import escape
    from rich.table import Table

    from huizong.catalog import CatalogError
    from huizong.forms.load import FormError
    from huizong.forms.model import VocabularyError, default_labels
    from huizong.read.periods import KIND_ZH

    try:
        from huizong.forms.new import NewFormError, new_form, read_back
    except VocabularyError as e:  # the words it guesses with
        print(f"huizong: {e}", file=sys.stderr)
        return 2
    if not args.dir:
        print("huizong: forms new 需要空表文件，如 huizong forms new 高企名单.xlsx --id hightech-list", file=sys.stderr)
        return 2
    started = time.perf_counter()
    out = Path(args.output) if args.output else None
    try:
        made = new_form(Path(args.dir), args.form_id, out, settings.config, sheet=args.sheet)
    except NewFormError as e:
        print(f"huizong: {e}", file=sys.stderr)
        return 2
    try:
        form, _ = _check_form(made.folder, made.check_root)
    except (FormError, CatalogError) as e:
        print(f"huizong: 已写出 {made.folder}，但检查未通过：{e}", file=sys.stderr)
        print("huizong: 请按提示修改后运行 huizong forms check；或删去该文件夹重新生成", file=sys.stderr)
        return 2
    back = read_back(made, settings.config)
    console = _console()
    kind = "明细表（每行一条记录）" if made.kind == "list" else "指标表（每行一个指标）"
    say = console.print
    say(f"已生成报表定义：{escape(str(made.folder))}/")
    say(
        f"  来源：{escape(made.source.name)} 的工作表“{escape(made.sheet)}”，表头在第 {made.header_row} 行；"
        f"{'空表' if not made.data_rows else f'表中已有 {made.data_rows} 行数据（用来猜类型）'}"
    )
    say(f"  报表：{escape(form.name)}（简称 {escape(form.short_name)}，代码 {made.form_id}），{kind}")
    say(
        f"  报送：{made.frequency}（{'、'.join(KIND_ZH[k] for k in made.periods) if made.frequency != 'month' else '每月'}）"
        f"——{escape(made.frequency_why)}"
    )
    if made.kind == "list":
        table = Table(title=f"字段 {len(made.fields)} 个（fields.csv）", show_lines=False)
        for col in ("列", "表头", "代码", "类型", "单位", "必填", "依据"):
            table.add_column(col)
        for f in made.fields:
            kind_text = f.type + f"（{_TYPE_ZH[f.type]}）" + (f"：{'|'.join(f.choices)}" if f.choices else "")
            table.add_row(
                f.column,
                escape(f.header),
                f.code,
                escape(kind_text),
                escape(f.unit),
                "是" if f.required else "",
                escape(f.why),
            )
        say(table)
        listed = "、".join(f"{m.code} {m.name}" + (f"（{m.group}分项）" if m.by else "") for m in made.measures)
        say(f"  汇总数 {len(made.measures)} 个（measures.csv）：{escape(listed)}")
    else:
        labels = default_labels()
        roles = "、".join(f"{labels.get(r, r)}=“{t}”" for r, _, t in made.roles)
        say(f"  栏目：{escape(roles)}")
        table = Table(title=f"指标 {len(made.indicators)} 个（indicators.csv）", show_lines=False)
        for col in ("行", "代码", "名称", "单位", "整数", "分组"):
            table.add_column(col)
        for i in made.indicators:
            table.add_row(
                str(i.row), i.code, escape(i.name), escape(i.unit), "是" if i.integer else "", escape(i.group)
            )
        say(table)
    say(f"  检查：通过（{len(form.rules)} 条规则；rules.csv 中以 # 开头的示例去掉 # 即生效）")
    say(f"  {'✓' if back.recognised else '!'} {escape(back.summary)}")
    for p in back.problems:
        say(f"  ! {escape(p)}")
    say(f"  用时 {time.perf_counter() - started:.1f} 秒")
    say("请核对：")
    steps = [
        *made.notes,
        "form.toml：报表名称、简称、报送频率和截止日期（due）、表号",
        "fields.csv：每列的类型、单位和必填；数值列可加 min/max，选项列核对 choices"
        if made.kind == "list"
        else "indicators.csv：每个指标的单位、是否整数、是否必填；比率类指标改为 ratio 并写分子分母",
        f"改完运行 huizong forms check {made.folder}，再用 huizong template --form {made.form_id} 生成下发的模板",
    ]
    for n, step in enumerate(steps, start=1):
        say(f"  {n}. {escape(step)}")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("huizong")
    except PackageNotFoundError:
        return "unknown"


class _Version(argparse.Action):
    """`--version`, looked up only when asked (reading the installed metadata costs every command
    about 50 ms)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser._print_message(f"huizong {_version()}\n", sys.stdout)  # as argparse's own "version" action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huizong",
        description="汇总：县区报表的收集、校验与汇总（收哪些报表，由 expectations/forms/ 中各报表的定义决定）",
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="one run: read the inbox, validate, decide, store, write outputs")
    _places(p, "inputs", "outputs", "store", "db")
    p.add_argument("--no-prefect", action="store_true", help="run in this process without Prefect")
    p.add_argument("--dask", help="Dask scheduler address (tcp://host:8786, or $HUIZONG_DASK): read on that cluster")
    p.add_argument("--no-docs", action="store_true", help="skip the GX Data Docs (also HUIZONG_DOCS=0)")
    p.add_argument(
        "--republish",
        action="store_true",
        help="rewrite the outputs of every period (after the catalog or a suite changed)",
    )
    p.add_argument(
        "--wait",
        type=float,
        default=600,
        help="seconds to wait while another run holds the lock, then exit with status 3 (default 600)",
    )
    _common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check files now and change nothing; exit 1 if any is refused")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the issues as JSON (issues.FLAT_COLUMNS) instead")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the messages printed (default zh)")
    p.add_argument(
        "--feedback",
        nargs="?",
        const="",
        metavar="DIR",
        help="write <file>_反馈.xlsx, with the problem cells marked, beside each file (or into DIR)",
    )
    _places(p, "store", "db")
    _common(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("template", help="the form to send to a county, header filled, last year prefilled")
    p.add_argument("--county", required=True, help="six-digit county code")
    p.add_argument("--period", required=True, help="period token, e.g. 2024H1 (a month for a monthly form: 2024M03)")
    p.add_argument("--form", help="the form's id (default: the first form, the key-indicator return)")
    p.add_argument("-o", "--output", help="file to write (default outputs/templates/<county>_<period>_<form>.xlsx)")
    _places(p, "outputs", "store", "db")
    _common(p)
    p.set_defaults(func=cmd_template)

    p = sub.add_parser("accept", help="accept a refused return anyway, with a reason, on the record")
    p.add_argument("file", metavar="FILE", help="the refused file: its name as dropped, or its path in store/rejected/")
    p.add_argument("--reason", required=True, help="why it is accepted (kept in the ledger)")
    p.add_argument("--by", help="who accepts it (default: the login name)")
    p.add_argument("--wait", type=float, default=600, help="seconds to wait for a run in progress (default 600)")
    _places(p, "outputs", "store", "db")
    _common(p)
    p.set_defaults(func=cmd_accept)

    p = sub.add_parser("users", help="the review desk's accounts: add, import a CSV, list, disable, password")
    p.add_argument("action", choices=["add", "import", "list", "disable", "password"])
    p.add_argument(
        "name",
        nargs="?",
        default="",
        metavar="NAME",
        help="the username (add, disable, password) or the CSV to import (用户名,姓名,角色,区划代码,电话,邮箱)",
    )
    p.add_argument("--role", help="county (县区填报), city (市级审核), province (省级审核) or admin (管理员)")
    p.add_argument("--division", help="the division code the account is bound to (list: only accounts inside it)")
    p.add_argument("--display-name", help="the person's name")
    p.add_argument("--phone")
    p.add_argument("--email")
    p.add_argument("--reason", help="why (disable: required; kept in the journal)")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else a first password is made and shown once)",
    )
    p.add_argument("--passwords-out", help="import: the CSV (readable by you only) the first passwords go to")
    _places(p, "store", "db")
    _common(p)
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("web", help="the review desk in a browser: uploads judged at once, the board, approval, 上报")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: behind a proxy)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--proxy",
        default="",
        help="addresses of the reverse proxy whose X-Forwarded-For/-Proto are believed, comma-separated "
        "(default none: behind nginx on this machine, --proxy 127.0.0.1)",
    )
    p.add_argument("--no-notices", action="store_true", help="leave sending notices to another process (serve)")
    _places(p, "inputs", "outputs", "store", "db")
    _common(p)
    p.set_defaults(func=cmd_web)

    p = sub.add_parser("notify", help="notices by e-mail and group robot: the outbox, send what is due, a test")
    p.add_argument("action", nargs="?", choices=["list", "send", "test"], default="list")
    p.add_argument("--to", help="test: the e-mail address to send a test message to")
    p.add_argument("--robot", help="test: the name of a [[robot]] in notices.toml to send a test message to")
    p.add_argument("--limit", type=int, default=20, help="list: how many of the latest notices (default 20)")
    _places(p, "store", "db")
    _common(p)
    p.set_defaults(func=cmd_notify)

    p = sub.add_parser("status", help="reporting rate: each county and period on time, late, missing, refused")
    p.add_argument("--period", help="one period, e.g. 2024H1 or 2024M03 (default: every period in the ledger)")
    p.add_argument("--form", help="one form's id (default: every form with returns)")
    _places(p, "store", "db")
    _common(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("history", help="past runs from the ledger")
    p.add_argument("--limit", type=int, default=30, help="how many of the latest runs (default 30)")
    _places(p, "store", "db")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("serve", help="nightly schedule, and a run whenever dropped files have settled in the inbox")
    _places(p, "inputs", "outputs", "store", "db")
    p.add_argument(
        "--cron", default=os.environ.get("HUIZONG_CRON", "0 2 * * *"), help="nightly schedule (default 0 2 * * *)"
    )
    p.add_argument("--timezone", default=os.environ.get("HUIZONG_TZ", "Asia/Shanghai"), help="of the schedule")
    p.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds dropped files must stay unchanged before a run starts (default $HUIZONG_SETTLE or 30)",
    )
    p.add_argument("--dask", help="Dask scheduler address (tcp://host:8786, or $HUIZONG_DASK): read on that cluster")
    p.add_argument(
        "--web", metavar="[HOST:]PORT", help="also serve the review desk (huizong web) there, in a child process"
    )
    p.add_argument("--proxy", default="", help="with --web: the reverse proxy's addresses (default none)")
    _common(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "demo",
        help="write realistic demo returns for 张掖市 (620700) into the inbox, "
        "with the times they arrived in the story (recorded in the ledger)",
    )
    _places(p, "inputs", "store", "db")
    p.add_argument("--form", choices=["key-indicators", "tech-contracts"], help="only this form's demo (default: both)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "forms",
        help="the forms a bureau collects; `forms check DIR` checks one definition; "
        "`forms new FILE.xlsx` writes one from the blank form",
    )
    p.add_argument("action", nargs="?", choices=["list", "check", "new"], default="list")
    p.add_argument(
        "dir",
        nargs="?",
        metavar="DIR|FILE",
        help="check: a form's folder (with form.toml); new: the blank form (.xlsx or .xls)",
    )
    p.add_argument("--id", dest="form_id", help="new: the form's id, its folder's name (default: from the file name)")
    p.add_argument(
        "-o", "--output", metavar="DIR", help="new: write the definition to DIR instead of <config>/forms/<id>/"
    )
    p.add_argument("--sheet", help="new: the sheet holding the form (default: the one that looks most like one)")
    _common(p)
    p.set_defaults(func=cmd_forms)
    return parser


EXIT_CONFIG, EXIT_FAULT = 2, 4


def fault_message(e: BaseException) -> tuple[int, str] | None:
    """One clear line (Chinese, for the analyst) and an exit status for a fault of the machine or
    of the configuration; None for anything else (a bug, which should show its traceback)."""
    from huizong.catalog import CatalogError
    from huizong.settings import SettingsError

    if isinstance(e, CatalogError):
        return EXIT_CONFIG, f"配置文件有误：{e}"
    if isinstance(e, SettingsError):
        return EXIT_CONFIG, f"设置有误：{e}"
    module = type(e).__module__ or ""
    if module.startswith("sqlalchemy") or module.startswith("sqlite3"):
        text = str(getattr(e, "orig", None) or e).splitlines()[0]
        low = text.lower()
        if "locked" in low or "busy" in low:
            why = "账本数据库被占用（locked），请稍后重新运行"
        elif "readonly" in low or "read-only" in low or "read only" in low:
            why = "账本数据库只读，请检查 store/ 的写权限"
        elif "disk" in low and "full" in low:
            why = "磁盘已满，账本无法写入；腾出空间后重新运行"
        else:
            why = f"账本数据库出错：{text}"
        return EXIT_FAULT, why + "。已收到的文件都保留在原处，下次运行会补完"
    if isinstance(e, RuntimeError) and "Prefect API server" in str(e):
        return (
            EXIT_FAULT,
            f"Prefect 服务未能启动（{e}）。可设置 PREFECT_API_URL 指向运行中的服务，或用 --no-prefect 在本进程内运行",
        )
    if type(e).__name__ == "BrokenProcessPool":
        return EXIT_FAULT, "发布输出的进程意外退出（内存不足或被终止）。已入账的数据都在账本中，重新运行即可补完输出"
    if type(e).__name__ == "StoreError":
        return EXIT_FAULT, f"存储出错：{e}。已收到的文件都保留在原处"
    if isinstance(e, OSError):
        where = f"（{e.filename}）" if e.filename else ""
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            why = f"磁盘空间不足{where}"
        elif e.errno == errno.EROFS:
            why = f"文件系统只读{where}"
        elif e.errno in (errno.EACCES, errno.EPERM):
            why = f"没有权限{where}"
        else:
            why = f"文件系统出错：{e.strerror or e}{where}"
        return EXIT_FAULT, why + "。本次运行未完成，已收到的文件都保留在原处，问题解决后重新运行即可补完"
    return None


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        code = 130
    except Exception as e:
        found = fault_message(e)
        if found is None:
            raise
        code, message = found
        print(f"huizong: {message}", file=sys.stderr)
    gc.freeze()  # the interpreter's last collections walk every object left (0.6 s once GX is loaded): skipped
    sys.exit(code)


if __name__ == "__main__":
    main()
