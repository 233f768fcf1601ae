"""`huizong serve`: the flow as a Prefect deployment on a nightly cron, plus an inbox watcher.

The watcher (`huizong.ledger.watch`) asks the deployment for a run once dropped files settle. The
runs are executed here, one at a time, in this process: Prefect's own Runner starts a new
interpreter for each flow run, which spends seconds importing Great Expectations and starting
the readers before it reads a file; here the validator and the bounded readers stay warm between
runs (`huizong.read.worker.keep_warm`), and each run is still an ordinary flow run of the
deployment, with its states, logs and artifact on the server. Ctrl-C or SIGTERM stops both cleanly.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.deployments.runner import RunnerDeployment
from prefect.flow_engine import run_flow
from prefect.schedules import Cron
from prefect.states import Pending
from prefect.utilities.engine import propose_state_sync

from flows.nightly import flow_for, huizong_run, without_heartbeat
from huizong.catalog import Config
from huizong.ledger.store import Store
from huizong.ledger.watch import watch_inbox
from huizong.notify.sender import Sender
from huizong.read.worker import keep_warm
from huizong.settings import Settings

DEPLOYMENT = "nightly"
POLL = 2.0  # seconds between looks for a due flow run
log = logging.getLogger("huizong.serve")


def run_due(flow: Any, deployment_id: Any, say: Callable[[str], None] = print) -> int:
    """Run, in this process, every flow run of the deployment that is due; how many ran."""
    ran = 0
    with get_client(sync_client=True) as client:
        due = client.get_scheduled_flow_runs_for_deployments([deployment_id], scheduled_before=datetime.now(UTC))
        for flow_run in sorted(due, key=lambda r: r.expected_start_time or datetime.now(UTC)):
            try:  # claimed, as a Runner claims it: a run another server process took is left to it
                if not propose_state_sync(client, Pending(), flow_run_id=flow_run.id).is_pending():
                    continue
            except Exception as e:  # Prefect's Abort: the server refused the claim
                log.info("flow run %s not claimed: %s", flow_run.id, e)
                continue
            with without_heartbeat():
                state = run_flow(
                    flow,
                    flow_run=FlowRun.model_validate(flow_run.model_dump()),
                    parameters=flow_run.parameters,
                    return_type="state",
                )
            say(f"流程运行 {flow_run.name}：{getattr(state, 'name', state)}（进程 {os.getpid()}）")
            ran += 1
    return ran


def serve_forever(
    settings: Settings, cron: str, timezone: str, settle: float, say: Callable[[str], None] = print
) -> None:
    params = {
        "inputs": str(settings.inputs.resolve()),
        "outputs": str(settings.outputs.resolve()),
        "store": str(settings.store.resolve()),
        "db_url": settings.db_url,
        "region": settings.region,
        "config": str(Path(settings.config).resolve()),
    }
    deployment = flow_for(settings.dask).to_deployment(
        name=DEPLOYMENT,
        schedules=[Cron(cron, timezone=timezone)],
        parameters=params,
        description="汇总：夜间定时运行，收件箱有新文件时也运行",
        concurrency_limit=1,
    )
    assert isinstance(deployment, RunnerDeployment)  # to_deployment is sync outside an event loop
    stop = threading.Event()

    def trigger() -> None:
        say("收件箱文件已稳定，开始运行")
        try:
            run_deployment(name=f"{huizong_run.name}/{DEPLOYMENT}", timeout=0)
        except Exception as e:
            say(f"无法启动运行：{e}")

    watcher = threading.Thread(
        target=watch_inbox, args=(settings.inputs, settle, trigger, stop), daemon=True, name="huizong-inbox-watcher"
    )

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    deployment_id = deployment.apply()
    flow = flow_for(settings.dask)
    keep_warm()
    settings.inputs.mkdir(parents=True, exist_ok=True)
    watcher.start()
    config = Config.current(settings.config)
    sender = Sender(Store.open(settings.db_url), lambda: Config.current(settings.config), settings.region)
    notices, notices_stop = sender.start()  # reminders, 催报, digests and every queued notice, from here
    if config.notices.enabled:
        say("通知：已启用（邮件或群机器人），由本进程发送")
    say(f"正在监视 {settings.inputs}（稳定 {settle:g} 秒后运行）；定时 {cron}（{timezone}）")
    try:
        while not stop.is_set():
            if run_due(flow, deployment_id, say):
                continue  # another may have come due meanwhile
            stop.wait(POLL)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        notices_stop.set()
        keep_warm(False)
        watcher.join(timeout=10)
        notices.join(timeout=30)
        say("已停止")
