"""The two ways a notice leaves: SMTP, and a group robot's webhook (企业微信, 钉钉).

Robots get plain text, never markdown: a file name or a reason could otherwise put a link in a
group's chat. A failure is a SendFailed with a sentence that names no secret (a webhook's URL
carries its key), and says whether trying again can help.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import quote_plus

import httpx

from huizong.notify.config import Email, Robot


class SendFailed(Exception):
    def __init__(self, message: str, final: bool = False) -> None:
        super().__init__(message)
        self.final = final  # trying again cannot help (no server set, a robot's settings gone)


def send_email(email: Email, to: str, subject: str, body: str, message_id: str, timeout: float) -> None:
    if not email.host:
        raise SendFailed("未设置邮件服务器（notices.toml [email] host）", final=True)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = email.sender, to, subject
    msg["Date"], msg["Message-ID"] = formatdate(localtime=True), message_id
    msg.set_content(body)
    try:
        context = ssl.create_default_context()
        server: smtplib.SMTP
        if email.security == "tls":
            server = smtplib.SMTP_SSL(email.host, email.port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(email.host, email.port, timeout=timeout)
        with server:
            if email.security == "starttls":
                server.starttls(context=context)
            if email.user:
                server.login(email.user, email.password())
            refused = server.send_message(msg)
        if refused:
            raise SendFailed(f"收件地址被拒收：{', '.join(refused)}", final=True)
    except smtplib.SMTPAuthenticationError as e:
        raise SendFailed(f"邮件服务器拒绝登录（{e.smtp_code}）：请检查 user 和密码") from None
    except smtplib.SMTPRecipientsRefused as e:
        raise SendFailed(f"收件地址被拒收：{', '.join(e.recipients)}", final=True) from None
    except (smtplib.SMTPException, OSError) as e:
        raise SendFailed(f"邮件服务器 {email.host}:{email.port} 不可用：{type(e).__name__}: {e}") from None


def dingtalk_signed(url: str, secret: str, at_ms: int | None = None) -> str:
    """钉钉 加签: the webhook URL with `timestamp` and `sign` (HMAC-SHA256 of "timestamp\\nsecret")."""
    stamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode())
    return f"{url}{'&' if '?' in url else '?'}timestamp={stamp}&sign={sign}"


def send_robot(robot: Robot, subject: str, body: str, timeout: float) -> None:
    url = robot.webhook()
    if not url:
        raise SendFailed(f"机器人“{robot.name}”的地址未设置（环境变量 {robot.url_env}）", final=True)
    if robot.kind == "dingtalk" and robot.secret():
        url = dingtalk_signed(url, robot.secret())
    payload = {"msgtype": "text", "text": {"content": f"{subject}\n\n{body}".strip()[:4000]}}
    try:
        answer = httpx.post(url, json=payload, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as e:
        raise SendFailed(f"机器人“{robot.name}”不可达：{type(e).__name__}") from None
    if answer.status_code != 200:
        raise SendFailed(f"机器人“{robot.name}”答复 HTTP {answer.status_code}")
    try:
        data = answer.json()
    except ValueError:
        raise SendFailed(f"机器人“{robot.name}”的答复不是 JSON") from None
    code = data.get("errcode", 0) if isinstance(data, dict) else -1
    if code != 0:
        raise SendFailed(f"机器人“{robot.name}”拒绝了消息：{code} {str(data.get('errmsg', ''))[:200]}")
