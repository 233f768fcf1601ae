"""The Prefect flow with its reading on a Dask cluster (prefect-dask): a local cluster started by
the test, on loopback, in worker processes of their own; the outputs equal an in-process run's."""

from __future__ import annotations

import csv
import shutil

import pytest

from huizong.demo import write_demo
from huizong.pipeline import run_batch
from huizong.settings import Settings

pytestmark = pytest.mark.slow


def _rows(path):  # type: ignore[no-untyped-def]
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _comparable(outputs):  # type: ignore[no-untyped-def]
    """The contract files, less what differs between two runs by nature (times, stored paths)."""
    subs = [{k: v for k, v in r.items() if k not in ("received_at",)} for r in _rows(outputs / "submissions.csv")]
    return {
        "submissions": subs,
        "totals": _rows(outputs / "620700" / "key-indicators" / "2024H1" / "totals.csv"),
        "issues": _rows(outputs / "620700" / "key-indicators" / "2024H1" / "issues.csv"),
    }


def test_reading_on_a_dask_cluster_gives_the_in_process_outputs(tmp_path):  # type: ignore[no-untyped-def]
    from distributed import Client, LocalCluster
    from prefect.testing.utilities import prefect_test_harness

    from flows.nightly import flow_for

    here, there = tmp_path / "inproc", tmp_path / "dask"
    for root in (here, there):
        (root / "inputs").mkdir(parents=True)
    write_demo(here / "inputs")
    for f in (here / "inputs").iterdir():
        shutil.copy2(f, there / "inputs" / f.name)
    run_batch(Settings.from_env(inputs=here / "inputs", outputs=here / "outputs", store=here / "store"))

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        prefect_test_harness(server_startup_timeout=120),
    ):
        result = flow_for(cluster.scheduler_address)(
            inputs=str(there / "inputs"), outputs=str(there / "outputs"), store=str(there / "store"), region="620700"
        )
        ran = client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.task_prefixes])
    assert result["counts"] == {"accepted": 5, "rejected": 3, "duplicate": 1, "superseded": 1, "ignored": 1}
    assert any("read_chunk" in k for k in ran), ran  # the reading tasks ran on the cluster
    assert _comparable(there / "outputs") == _comparable(here / "outputs")


def test_publishing_on_a_dask_cluster_writes_what_publishing_here_writes(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A province and the nation published as tasks on a local cluster's two single-thread workers:
    every workbook cell, CSV field and report paragraph equals what the publishers here write."""
    from builders import output_contents, write_multi_level
    from distributed import Client, LocalCluster
    from prefect.testing.utilities import prefect_test_harness

    from flows.nightly import flow_for

    monkeypatch.setenv("HUIZONG_NOW", "2024-07-12T10:00:00+08:00")
    here, there = tmp_path / "inproc", tmp_path / "dask"
    counties = write_multi_level(here / "inputs")
    shutil.copytree(here / "inputs", there / "inputs")
    s = run_batch(
        Settings.from_env(
            inputs=here / "inputs", outputs=here / "outputs", store=here / "store", region="000000", docs="0"
        )
    )
    assert s.counts["accepted"] == len(counties)
    monkeypatch.setenv("HUIZONG_DOCS", "0")
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        prefect_test_harness(server_startup_timeout=120),
    ):
        result = flow_for(cluster.scheduler_address)(
            inputs=str(there / "inputs"), outputs=str(there / "outputs"), store=str(there / "store"), region="000000"
        )
        ran = client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.task_prefixes])
    assert result["counts"]["accepted"] == len(counties)
    assert any("publish_group" in k for k in ran), ran  # the regions were published on the cluster
    mine, theirs = output_contents(here / "outputs"), output_contents(there / "outputs")
    assert sorted(theirs) == sorted(mine)
    assert len([k for k in mine if k.endswith(".xlsx")]) >= 8
    differ = [k for k in mine if mine[k] != theirs[k]]
    assert not differ, differ
