"""The Prefect flow over the demo batch, against a temporary Prefect server."""

from __future__ import annotations

import pytest

from huizong.demo import write_demo

pytestmark = pytest.mark.slow  # a Prefect server and a flow run: minutes


@pytest.fixture(scope="module")
def prefect_server():  # type: ignore[no-untyped-def]
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_flow_runs_the_pipeline(ws, prefect_server):  # type: ignore[no-untyped-def]
    from flows.nightly import huizong_run

    write_demo(ws.inputs)
    result = huizong_run(inputs=str(ws.inputs), outputs=str(ws.outputs), store=str(ws.store), region="620700")
    assert result["counts"] == {"accepted": 5, "rejected": 3, "duplicate": 1, "superseded": 1, "ignored": 1}
    assert ws.totals("2024H1")["E04"]["n_reported"] == "5"
    # `city`: the parameter's name in deployments made before regions above a city; still understood
    again = huizong_run(inputs=str(ws.inputs), outputs=str(ws.outputs), store=str(ws.store), city="620700")
    assert again["decisions"] == []
