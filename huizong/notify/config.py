"""`notices.toml`: how notices go out (SMTP, group robots), when (reminders, 催报, the digest), and
their Chinese texts, as templates a bureau edits. Secrets never sit in the file: it names the
environment variable or the file that holds the SMTP password, a robot's webhook URL and its 钉钉
signing secret. An unknown key, a wrong type or a template that uses a name its notice does not
have is a NoticesError naming the file, when the configuration is loaded, not when a notice is due.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

KINDS = ("returned", "judged", "waiting", "reminder", "overdue", "digest", "test")
SECURITY = ("tls", "starttls", "none")
ROBOTS = ("wecom", "dingtalk")


class NoticesError(ValueError):
    "notices.toml is malformed"


@dataclass(frozen=True)
class Email:
    """[email]: the SMTP server notices are sent through (none if `host` is empty)."""

    host: str = ""
    port: int = 465
    security: str = "tls"  # tls (implicit, 465) | starttls (587) | none (a relay on this machine)
    user: str = ""
    sender: str = ""
    password_env: str = "HUIZONG_SMTP_PASSWORD"
    password_file: str = ""

    def password(self) -> str:
        """The password, from the environment variable or else the file ('' if neither is set)."""
        if self.password_env and os.environ.get(self.password_env):
            return os.environ[self.password_env]
        if self.password_file:
            try:
                return Path(self.password_file).read_text(encoding="utf-8").strip()
            except OSError as e:
                raise NoticesError(f"[email] password_file {self.password_file}: {e.strerror}") from None
        return ""


@dataclass(frozen=True)
class Robot:
    """[[robot]]: a group robot (企业微信 or 钉钉) and the notices of a division it carries."""

    name: str
    kind: str  # wecom | dingtalk
    division: str  # it carries the notices of this division and every division inside it
    events: tuple[str, ...]
    url: str = ""  # the webhook URL (it holds the robot's key: better given by url_env)
    url_env: str = ""
    secret_env: str = ""  # 钉钉 加签: the variable holding the signing secret (SEC…)

    def webhook(self) -> str:
        return os.environ.get(self.url_env, "") if self.url_env else self.url

    def secret(self) -> str:
        return os.environ.get(self.secret_env, "") if self.secret_env else ""


@dataclass(frozen=True)
class Remind:
    """[remind]: reminders before a deadline, 催报 after it, the reviewers' daily digest."""

    days_before: tuple[int, ...] = (5, 1)
    overdue_every: int = 3  # days between 催报 once a deadline has passed (0: only by the button on /late)
    overdue_for: int = 30  # days after a deadline that 催报 goes on by itself
    digest_at: str = "08:30"  # China time; '' for no digest


@dataclass(frozen=True)
class Send:
    """[send]: how the outbox sends."""

    retry_minutes: tuple[float, ...] = (1, 5, 15, 60, 180, 720)  # waits after each failure; then failed
    timeout: float = 20  # seconds for one SMTP or webhook exchange
    every: float = 5  # seconds between looks at the outbox


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


@dataclass(frozen=True)
class Notices:
    bureau: str = ""  # who sends: the bureau's name as notices sign it (default: the region's name + 科技局)
    desk_url: str = ""  # the desk's address as users reach it: the links in notices start with it
    email: Email = field(default_factory=Email)
    robots: tuple[Robot, ...] = ()
    remind: Remind = field(default_factory=Remind)
    send: Send = field(default_factory=Send)
    events: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(KINDS, True))
    texts: dict[str, Text] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        """Whether any notice can go out: an SMTP host or a robot, and texts to send."""
        return bool(self.texts) and bool(self.email.host or self.robots)

    def on(self, kind: str) -> bool:
        return self.enabled and self.events.get(kind, False) and kind in self.texts

    def robots_for(self, kind: str, divisions: list[str]) -> list[Robot]:
        """The robots that carry `kind` for any of `divisions` (a county and the divisions above it)."""
        return [r for r in self.robots if kind in r.events and r.division in divisions]

    def render(self, kind: str, context: dict[str, Any]) -> tuple[str, str]:
        """(subject, body) of a notice of `kind`."""
        text = self.texts[kind]
        subject = _ENV.from_string(text.subject).render(context)
        return " ".join(subject.split())[:200], _ENV.from_string(text.body).render(context).strip() + "\n"

    @classmethod
    def load(cls, path: Path) -> Notices:
        if not path.exists():
            return cls(texts={})
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            out = cls._of(data)
            for kind in out.texts:
                out.render(kind, SAMPLES[kind])
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise NoticesError(f"{path}: {e}") from None
        except TemplateError as e:
            raise NoticesError(f"{path}: 通知模板有误：{e}") from None
        except NoticesError as e:
            raise NoticesError(f"{path}: {e}") from None
        return out

    @classmethod
    def _of(cls, data: dict[str, Any]) -> Notices:
        _known(data, {"bureau", "desk_url", "email", "robot", "remind", "send", "events", "text"}, "")
        email = _table(data, "email")
        _known(email, {f for f in Email.__dataclass_fields__}, "[email]")
        e = Email(**{k: _typed(v, type(getattr(Email(), k)), f"[email] {k}") for k, v in email.items()})
        if e.security not in SECURITY:
            raise NoticesError(f"[email] security = {e.security!r}：应为 {' | '.join(SECURITY)}")
        if e.host and not e.sender:
            raise NoticesError("[email] 设置了 host，还须设置 sender（发件人地址）")
        robots = []
        for i, r in enumerate(data.get("robot", []) or []):
            where = f"[[robot]] 第 {i + 1} 个"
            if not isinstance(r, dict):
                raise NoticesError(f"{where}：应为表")
            _known(r, {"name", "kind", "division", "events", "url", "url_env", "secret_env"}, where)
            missing = [k for k in ("name", "kind", "division", "events") if k not in r]
            if missing:
                raise NoticesError(f"{where}：缺少 {', '.join(missing)}")
            events = tuple(str(x) for x in r["events"]) if isinstance(r["events"], list) else ()
            if not events or set(events) - set(KINDS):
                raise NoticesError(f"{where} events：应为 {', '.join(KINDS)} 中的一个或几个")
            robot = Robot(
                str(r["name"]),
                str(r["kind"]),
                str(r["division"]),
                events,
                str(r.get("url", "")),
                str(r.get("url_env", "")),
                str(r.get("secret_env", "")),
            )
            if robot.kind not in ROBOTS:
                raise NoticesError(f"{where} kind = {robot.kind!r}：应为 wecom（企业微信）或 dingtalk（钉钉）")
            if not (robot.url or robot.url_env):
                raise NoticesError(f"{where}：须设置 url_env（或 url）")
            robots.append(robot)
        names = [r.name for r in robots]
        if len(set(names)) != len(names):
            raise NoticesError("[[robot]] 的 name 不能重复")
        remind = _table(data, "remind")
        _known(remind, {"days_before", "overdue_every", "overdue_for", "digest_at"}, "[remind]")
        days = remind.get("days_before", [5, 1])
        if not isinstance(days, list) or not all(isinstance(d, int) and 0 < d <= 60 for d in days):
            raise NoticesError("[remind] days_before：应为 1–60 的整数列表")
        every = _typed(remind.get("overdue_every", 3), int, "[remind] overdue_every")
        lasting = _typed(remind.get("overdue_for", 30), int, "[remind] overdue_for")
        digest = str(remind.get("digest_at", "08:30"))
        if digest:
            try:
                dt.time.fromisoformat(digest)
            except ValueError:
                raise NoticesError(f"[remind] digest_at = {digest!r}：应为 HH:MM") from None
        send = _table(data, "send")
        _known(send, {"retry_minutes", "timeout", "every"}, "[send]")
        retry = send.get("retry_minutes", list(Send.retry_minutes))
        if not isinstance(retry, list) or not all(isinstance(x, int | float) and x >= 0 for x in retry):
            raise NoticesError("[send] retry_minutes：应为非负数字的列表")
        wanted = _table(data, "events")
        _known(wanted, set(KINDS), "[events]")
        texts = {}
        for kind, t in _table(data, "text").items():
            if kind not in KINDS:
                raise NoticesError(f"[text.{kind}]：没有这种通知（应为 {', '.join(KINDS)}）")
            if not isinstance(t, dict) or set(t) != {"subject", "body"}:
                raise NoticesError(f"[text.{kind}]：应有且只有 subject 和 body")
            texts[kind] = Text(str(t["subject"]), str(t["body"]))
        return cls(
            bureau=str(data.get("bureau", "")),
            desk_url=str(data.get("desk_url", "")).rstrip("/"),
            email=e,
            robots=tuple(robots),
            remind=Remind(tuple(sorted(set(days), reverse=True)), max(0, every), max(0, lasting), digest),
            send=Send(
                tuple(float(x) for x in retry),
                _typed(send.get("timeout", 20), float, "[send] timeout"),
                _typed(send.get("every", 5), float, "[send] every"),
            ),
            events={k: bool(wanted.get(k, True)) for k in KINDS},
            texts=texts,
        )


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    got = data.get(name, {})
    if not isinstance(got, dict):
        raise NoticesError(f"[{name}]：应为表")
    return got


def _known(data: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise NoticesError(f"{where or '顶层'}：不认识的设置 {', '.join(unknown)}")


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise NoticesError(f"{where} = {value!r}：类型不对")
    return value


_COMMON = {
    "county": "民乐县",
    "form": "重点科技指标",
    "period": "2026年上半年",
    "link": "https://huizong.example/returns/1",
    "bureau": "张掖市科技局",
}
SAMPLES: dict[str, dict[str, Any]] = {  # what each kind's template may use, with a value of the right shape
    "returned": {
        **_COMMON,
        "file": "民乐县.xlsx",
        "reason": "研发经费与上年相差过大，请核实",
        "reviewer": "zhangye",
        "at": "2026-07-08 10:15",
    },
    "judged": {**_COMMON, "file": "民乐县.xlsx", "verdict": "校验通过", "accepted": True, "errors": 0, "warnings": 1},
    "waiting": {**_COMMON, "file": "民乐县.xlsx", "verdict": "校验通过", "warnings": 1, "correction": False},
    "reminder": {**_COMMON, "due": "2026-07-10", "days": 5},
    "overdue": {**_COMMON, "due": "2026-07-10", "days_late": 3},
    "digest": {
        **_COMMON,
        "region": "张掖市",
        "date": "2026-07-08",
        "rows": [
            {
                "form": "重点科技指标",
                "period": "2026年上半年",
                "due": "2026-07-10",
                "counts": "已通过 3、待审 2、未报 1",
                "waiting": ["民乐县", "临泽县"],
                "late": ["高台县"],
            }
        ],
    },
    "test": {"bureau": "张掖市科技局", "at": "2026-07-08 10:15", "link": "https://huizong.example/"},
}
