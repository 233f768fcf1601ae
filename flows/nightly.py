"""The huizong run as a Prefect flow: the same steps as `huizong.pipeline.run`, executed as tasks.

`pipeline.run` defines the run once; this module only says how Prefect executes its steps:
each step a task, reading mapped over chunks of files (each chunk read by bounded workers, one
per core), retries where a step may be repeated safely, and a markdown artifact at the end.
Settings resolve as everywhere else: flow parameters, then the environment, then defaults.

With a Dask scheduler (`--dask tcp://host:8786`, `HUIZONG_DASK`) the reading tasks and, for many
regions (a province, the nation), the publishing tasks run on that cluster through prefect-dask
(`flow_for`); committing stays in the flow's process, next to the ledger, and so does writing
outputs/: a worker makes a region's files and sends their bytes back, and the flow puts each in
place. A Dask worker reads the run's staged copies by their absolute paths, and reads outputs/ (a
region's previous validation page, which feedback workbooks exist) by its path, so the store
folder, the configuration folder and outputs/ must be mounted at the same paths on the cluster's
machines (outputs/ may be read-only there), and the ledger's URL must reach its database from them
(PostgreSQL, or SQLite on that mount).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from huizong import pipeline
from huizong.catalog import Config
from huizong.ledger.decisions import Inbound
from huizong.ledger.published import Written
from huizong.publish import parallel
from huizong.publish.region import Job
from huizong.read.model import Return
from huizong.settings import Settings

T = TypeVar("T")
RETRIED = {"feedback", "publish", "reporting"}  # steps that write outputs atomically: safe to repeat


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def read_chunk(files: list[Inbound], config_dir: Path, region: str) -> list[Return]:
    return pipeline.read_files(files, Config.current(config_dir), region)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def publish_group(
    db_url: str, config_dir: Path, outputs: Path, group: list[Job], known: dict[Job, Written]
) -> parallel.Made:
    return parallel.make_group(db_url, config_dir, outputs, group, known)


class PrefectExecutor(pipeline.Executor):
    def __init__(self, settings: Settings) -> None:
        from prefect.context import FlowRunContext

        self.settings = settings
        self.logger = get_run_logger()
        ctx = FlowRunContext.get()
        runner = ctx.task_runner if ctx is not None else None
        self.distributed = runner is not None and type(runner).__name__ != "ThreadPoolTaskRunner"
        if self.distributed:
            self.spread = self.publish

    def publish(
        self, groups: list[list[Job]], known: list[dict[Job, Written]], db_url: str, config_dir: Path, outputs: Path
    ) -> list[parallel.Made]:
        """Each group of regions one task on the cluster (`parallel.make_group`): its workers read
        the views from the ledger and make the outputs' files, which this process puts in place."""
        futures = publish_group.map(unmapped(db_url), unmapped(config_dir), unmapped(outputs), groups, known)
        return [fut.result() for fut in futures]

    def chunk_size(self, n_files: int) -> int:
        """On a cluster, chunks of 64 spread over its workers; on this machine one task, whose
        bounded workers use every core (many chunks at once would start a set of workers each)."""
        return self.chunk if self.distributed else n_files

    def step(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if name == "publish" and self.distributed:  # its groups are the tasks, at the flow's level: a task
            return fn(*args, **kwargs)  # submitted from inside another carries its context, which Dask cannot ship
        retries = 2 if name in RETRIED else 0
        t = task(name=name, cache_policy=NO_CACHE, retries=retries, retry_delay_seconds=1)(fn)
        # quoted: Prefect would otherwise walk every Return, fact and issue looking for futures
        return t(*(quote(a) for a in args), **{k: quote(v) for k, v in kwargs.items()})

    def read(self, chunks: list[list[Inbound]], config: Config, region: str, progress: Any) -> list[Return]:
        """Each chunk one task, on the flow's task runner (threads here, or a Dask cluster); the
        files by absolute path, so that a worker in another folder or on another machine finds them."""
        chunks = [[_absolute(f) for f in chunk] for chunk in chunks]
        futures = read_chunk.map(chunks, unmapped(Path(self.settings.config).resolve()), unmapped(region))
        return [r for fut in futures for r in fut.result()]

    def log(self, message: str) -> None:
        self.logger.info(message)


def _absolute(f: Inbound) -> Inbound:
    return dataclasses.replace(f, path=f.path.absolute(), staged=f.staged.absolute() if f.staged else None)


def summary_markdown(summary: pipeline.RunSummary) -> str:
    lines = ["| 文件 | 状态 | 区划代码 | 报告期 | 错误 | 警告 | 说明 |", "|---|---|---|---|---|---|---|"]
    for d in summary.decisions:
        ret = d.ret
        county = (ret.county_code or "") if ret else ""
        period = ret.period.token if ret and ret.period else ""
        lines.append(f"| {d.inbound.rel} | {d.status} | {county} | {period} | {d.errors} | {d.warnings} | {d.reason} |")
    counts = "，".join(f"{k} {v}" for k, v in summary.counts.items())
    return f"# huizong 第 {summary.run_id} 次运行\n\n{counts}\n\n" + "\n".join(lines)


@flow(name="huizong-run", log_prints=False)
def huizong_run(
    inputs: str = "",
    outputs: str = "",
    store: str = "",
    db_url: str = "",
    region: str = "",
    config: str = "",
    wait: float = 600,
    republish: bool = False,
    city: str = "",
) -> dict[str, Any]:
    """`city`: what `region` was called before regions above a city; deployments made then still pass it."""
    settings = Settings.from_env(
        inputs=inputs, outputs=outputs, store=store, db_url=db_url, region=region or city, config=config
    )
    summary = pipeline.run(settings, None, PrefectExecutor(settings), wait=wait, republish=republish)
    create_markdown_artifact(markdown=summary_markdown(summary), key="huizong-run", description="huizong 运行结果")
    return {
        "run_id": summary.run_id,
        "counts": summary.counts,
        "outputs": [str(p) for p in summary.outputs],
        "decisions": [(d.inbound.rel, d.status, d.errors, d.warnings, d.reason) for d in summary.decisions],
        "deferred": summary.deferred,
        "timings": summary.timings,
    }


HEARTBEAT_SETTINGS = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


@contextlib.contextmanager
def without_heartbeat() -> Iterator[None]:
    """Run a flow without Prefect's flow-run heartbeat, unless the operator set its frequency.

    Prefect 3 sends a heartbeat every 180 s from a thread that sleeps in whole seconds and is joined
    when the flow run ends: up to a second added to every run, an analyst's one correction included.
    The heartbeats only serve an automation that marks silent flow runs crashed; huizong's own
    liveness is the run lock's heartbeat, and the next run finishes whatever a killed one left. An
    operator who has such an automation sets PREFECT_FLOWS_HEARTBEAT_FREQUENCY and gets them back."""
    if any(os.environ.get(name) for name in HEARTBEAT_SETTINGS):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def flow_for(dask: str = "") -> Any:
    """The flow, its reading tasks on the Dask cluster at `dask` (a scheduler address) when one is
    given, else on Prefect's default thread pool."""
    if not dask:
        return huizong_run
    from prefect_dask import DaskTaskRunner

    return huizong_run.with_options(task_runner=DaskTaskRunner(address=dask))  # type: ignore[arg-type]
