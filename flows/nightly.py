"""The huizong run as a Prefect flow: thin wrappers around `huizong.pipeline`.

Reading is mapped over chunks of files (a few per task, not one task per file: every task
run is recorded through the Prefect API). Validation runs once over the whole batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from huizong import pipeline
from huizong.catalog import Config
from huizong.model import Return
from huizong.publish import publish
from huizong.settings import Settings

CHUNK = 8


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def read_chunk(files: list[pipeline.Inbound], config_dir: Path, city: str) -> list[Return]:
    return pipeline.read_files(files, Config.load(config_dir), city)


@task(cache_policy=NO_CACHE)
def validate_batch(returns: list[Return], settings: Settings) -> dict[str, Any]:
    store = pipeline.open_store(settings)
    return pipeline.validate(returns, Config.load(settings.config), settings.city, store, pipeline.docs_dir(settings))


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def publish_outputs(settings: Settings, periods: set[str]) -> list[Path]:
    store = pipeline.open_store(settings)
    return publish(store, Config.load(settings.config), settings, periods)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def feedback_workbooks(decisions: list[pipeline.Decision], settings: Settings) -> list[Path]:
    return pipeline.write_feedbacks(decisions, settings, Config.load(settings.config))


def _summary_markdown(summary: pipeline.RunSummary) -> str:
    lines = ["| 文件 | 状态 | 区划代码 | 报告期 | 错误 | 警告 | 说明 |", "|---|---|---|---|---|---|---|"]
    for d in summary.decisions:
        ret = d.ret
        lines.append(
            f"| {d.inbound.rel} | {d.status} | {ret.county_code or '' if ret else ''} | "
            f"{ret.period.token if ret and ret.period else ''} | {d.errors} | {d.warnings} | {d.reason} |"
        )
    counts = ", ".join(f"{k}: {v}" for k, v in summary.counts.items())
    return f"# huizong run {summary.run_id}\n\n{counts}\n\n" + "\n".join(lines)


@flow(name="huizong-run", log_prints=False)
def huizong_run(inputs: str = "inputs", outputs: str = "outputs", store: str = "store", db_url: str = "",
                city: str = "", config: str = "") -> dict[str, Any]:  # fmt: skip
    logger = get_run_logger()
    settings = Settings.from_env(inputs=inputs, outputs=outputs, store=store, db_url=db_url, city=city, config=config)
    st = pipeline.open_store(settings)
    files = [pipeline.fingerprint(p, settings.inputs) for p in pipeline.discover(settings.inputs)]
    plan = pipeline.plan(files, st, settings)
    pipeline.finish_moves(plan, settings)
    run_id = pipeline.start_run(st, settings, len(files))
    logger.info("run %s: %d files, %d to read", run_id, len(files), len(plan.to_read))
    chunks = [plan.to_read[i : i + CHUNK] for i in range(0, len(plan.to_read), CHUNK)]
    returns = [
        r for fut in read_chunk.map(chunks, unmapped(settings.config), unmapped(settings.city)) for r in fut.result()
    ]
    issues = validate_batch(returns, settings) if returns else {}
    decisions = pipeline.decide(plan, returns, issues)
    pipeline.commit(decisions, st, settings, run_id, on_each=lambda d: logger.info("%s: %s", d.inbound.rel, d.status))
    written = feedback_workbooks(decisions, settings)  # first: the validation page links to them
    written += publish_outputs(settings, pipeline.touched_periods(decisions, st))
    pipeline.end_run(st, run_id, decisions)
    summary = pipeline.RunSummary(run_id, decisions, written)
    create_markdown_artifact(markdown=_summary_markdown(summary), key="huizong-run", description="huizong run summary")
    return {"run_id": run_id, "counts": summary.counts, "outputs": [str(p) for p in written],
            "decisions": [(d.inbound.rel, d.status, d.errors, d.warnings, d.reason) for d in decisions]}  # fmt: skip
