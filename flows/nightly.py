"""The huizong run as a Prefect flow: thin wrappers around `huizong.pipeline`.

Reading is mapped over chunks of files (a few per task, not one task per file: every task
run is recorded through the Prefect API). Validation runs once over the whole batch. The
run holds the ledger's run lock throughout, so two flow runs never interleave.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from huizong import pipeline
from huizong.catalog import Config
from huizong.ledger.commit import commit, recover
from huizong.ledger.runlock import run_lock
from huizong.publish.outputs import publish
from huizong.read.model import Return
from huizong.settings import Settings

CHUNK = 64  # each chunk is read by its own bounded workers (huizong.worker), one per core


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def read_chunk(files: list[pipeline.Inbound], config_dir: Path, city: str) -> list[Return]:
    return pipeline.read_files(files, Config.load(config_dir), city)


@task(cache_policy=NO_CACHE)
def validate_batch(returns: list[Return], settings: Settings) -> dict[str, Any]:
    store = pipeline.open_store(settings)
    return pipeline.validate(returns, Config.load(settings.config), settings.city, store, pipeline.docs_dir(settings))


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def feedback_workbooks(settings: Settings, submission_ids: list[int]) -> list[Path]:
    store = pipeline.open_store(settings)
    return pipeline.write_feedbacks(store, settings, Config.load(settings.config), submission_ids)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def publish_outputs(settings: Settings, periods: set[str] | None) -> list[Path]:
    store = pipeline.open_store(settings)
    return publish(store, Config.load(settings.config), settings, periods)


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
def huizong_run(inputs: str = "inputs", outputs: str = "outputs", store: str = "store", db_url: str = "",
                city: str = "", config: str = "", wait: float = 600, republish: bool = False) -> dict[str, Any]:  # fmt: skip
    logger = get_run_logger()
    settings = Settings.from_env(inputs=inputs, outputs=outputs, store=store, db_url=db_url, city=city, config=config)
    st = pipeline.open_store(settings)
    with run_lock(st, wait=wait):
        taken, deferred = pipeline.take(settings)
        files = recover(taken, st, settings)
        plan = pipeline.plan(files, st, settings)
        if deferred:
            logger.info("still being written, left for the next run: %s", ", ".join(deferred))
        run_id, interrupted = pipeline.start_run(st, settings, len(files))
        if interrupted:
            logger.warning("finishing the work of interrupted runs %s", interrupted)
        logger.info("run %s: %d files, %d to read", run_id, len(files), len(plan.to_read))
        chunks = [plan.to_read[i : i + CHUNK] for i in range(0, len(plan.to_read), CHUNK)]
        futures = read_chunk.map(chunks, unmapped(settings.config), unmapped(settings.city))
        returns = [r for fut in futures for r in fut.result()]
        issues = validate_batch(returns, settings) if returns else {}
        decisions = pipeline.decide(plan, returns, issues)
        commit(decisions, st, settings, run_id, on_each=lambda d: logger.info("%s: %s", d.inbound.rel, d.status))
        ids = [d.submission_id for d in decisions if d.submission_id is not None]
        written = feedback_workbooks(settings, ids + pipeline.submissions_of_runs(st, interrupted))
        everything = republish or bool(interrupted)
        written += publish_outputs(settings, None if everything else pipeline.touched_periods(decisions, st))
        pipeline.end_run(st, run_id, decisions)
    summary = pipeline.RunSummary(run_id, decisions, written, deferred)
    create_markdown_artifact(markdown=summary_markdown(summary), key="huizong-run", description="huizong 运行结果")
    return {"run_id": run_id, "counts": summary.counts, "outputs": [str(p) for p in written],
            "decisions": [(d.inbound.rel, d.status, d.errors, d.warnings, d.reason) for d in decisions],
            "deferred": deferred}  # fmt: skip
