"""`huizong serve`: the flow as a Prefect deployment on a nightly cron, plus an inbox watcher.

The watcher (`huizong.ledger.watch`) asks the deployment for a run once dropped files settle; the
Runner executes runs one at a time (and the ledger's run lock would serialise them anyway).
Ctrl-C or SIGTERM stops both cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from prefect import serve
from prefect.deployments import run_deployment
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.nightly import flow_for, huizong_run
from huizong.ledger.watch import watch_inbox
from huizong.settings import Settings

DEPLOYMENT = "nightly"
log = logging.getLogger("huizong.serve")


def serve_forever(settings: Settings, cron: str, timezone: str, settle: float,
                  say: Callable[[str], None] = print) -> None:  # fmt: skip
    params = {"inputs": str(settings.inputs.resolve()), "outputs": str(settings.outputs.resolve()),
              "store": str(settings.store.resolve()), "db_url": settings.db_url, "city": settings.city,
              "config": str(Path(settings.config).resolve())}  # fmt: skip
    deployment = flow_for(settings.dask).to_deployment(name=DEPLOYMENT, schedules=[Cron(cron, timezone=timezone)], parameters=params,
                                           description="汇总：夜间定时运行，收件箱有新文件时也运行",
                                           concurrency_limit=1)  # fmt: skip
    assert isinstance(deployment, RunnerDeployment)  # to_deployment is sync outside an event loop
    stop = threading.Event()

    def trigger() -> None:
        say("收件箱文件已稳定，开始运行")
        try:
            run_deployment(name=f"{huizong_run.name}/{DEPLOYMENT}", timeout=0)
        except Exception as e:
            say(f"无法启动运行：{e}")

    watcher = threading.Thread(target=watch_inbox, args=(settings.inputs, settle, trigger, stop), daemon=True,
                               name="huizong-inbox-watcher")  # fmt: skip

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    say(f"正在监视 {settings.inputs}（稳定 {settle:g} 秒后运行）；定时 {cron}（{timezone}）")
    watcher.start()
    try:
        serve(deployment, limit=1, print_starting_message=False)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        watcher.join(timeout=10)
        say("已停止")
