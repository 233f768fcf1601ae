"""A local Prefect server for `huizong serve` when PREFECT_API_URL names none.

Started as a subprocess before Prefect is imported in this process, so that the settings
Prefect reads at import already point at it. Stopped when `huizong serve` stops.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class ServerFailed(Exception):
    "The local Prefect server did not come up"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_log() -> Path:
    """Where the local Prefect server's output goes: with Prefect's own files (PREFECT_HOME, its
    database and logs), not in huizong's store.

    Read from the environment, not from `prefect.settings`: importing Prefect fixes its settings
    for the process, and this runs before the server's PREFECT_API_URL is set; a Prefect imported
    now would run every flow on a temporary server of its own instead of this one."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser() / "logs" / "server.log"


def start_local_server(log_file: Path | None = None, timeout: float = 180) -> subprocess.Popen[bytes]:
    log_file = log_file or server_log()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    # the UI is on, and told where its API is (on any port but 4200 it would look at 4200 otherwise)
    env = {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true",
        "PREFECT_UI_API_URL": url,
    }
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"Prefect 服务启动失败，见 {log_file}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    os.environ["PREFECT_API_URL"] = url
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise ServerFailed(f"Prefect 服务 {timeout:g} 秒内未就绪，见 {log_file}")
