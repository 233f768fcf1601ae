"""Pages that update in place (issue 22, item 8): the verdict page asks for its feedback workbook
until it is ready, the board refreshes its cells; with the pinned htmx served by the desk, and
everything still working without script."""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from builders import BASE_VALUES, write_return
from test_desk_review import browser, make_desk, upload

HTMX_SHA256 = "71ea67185bfa8c98c39d31717c6fce5d852370fcdfd129db4543774d3145c0de"  # htmx 2.0.10 dist/htmx.min.js


@pytest.fixture
def desk(ws, monkeypatch):  # type: ignore[no-untyped-def]
    return make_desk(ws, monkeypatch)


def test_the_pinned_htmx_is_served_and_every_page_loads_it(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = browser(store, ws, "minle")
    page = c.get("/").text
    m = re.search(r'<script src="(/static/htmx-[\d.]+\.min\.js)" defer></script>', page)
    assert m, page
    js = c.get(m.group(1))
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert hashlib.sha256(js.content).hexdigest() == HTMX_SHA256
    assert "'self'" in js.headers["content-security-policy"]  # a script from the desk itself: CSP allows it
    assert '"allowEval":false' in page  # no eval, no inline script from a swapped fragment


def test_the_verdict_page_fills_in_its_feedback_workbook_and_no_one_else_sees_it(desk, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = desk
    minle, linze = browser(store, ws, "minle"), browser(store, ws, "linze")
    bad = write_return(tmp_path / "民乐县.xlsx", "620722", "2024H1", {**BASE_VALUES, "B02": 40})
    sid, _ = upload(minle, bad)
    fragment = f"/returns/{sid}/feedback-link"
    deadline = time.monotonic() + 60
    while True:
        r = minle.get(fragment)
        assert r.status_code == 200
        if "下载反馈表" in r.text or time.monotonic() > deadline:
            break
        # not ready yet: the line asks again by itself
        assert f'hx-get="{fragment}" hx-trigger="every 2s" hx-swap="outerHTML"' in r.text, r.text
        time.sleep(0.2)
    assert (
        r.text.strip() == f'<p id="feedback"><a href="/returns/{sid}/feedback">下载反馈表（问题已标在单元格上）</a></p>'
    )
    assert "<html" not in r.text  # a fragment, not a page
    # the verdict page, reloaded, shows the same line (and without script it is a plain link)
    assert r.text.strip() in minle.get(f"/returns/{sid}").text
    # another county asks for it: refused, nothing of the return
    other = linze.get(fragment)
    assert other.status_code in (403, 404) and "下载反馈表" not in other.text and "民乐县" not in other.text
    # a clean return has no feedback workbook: nothing polls
    clean = write_return(tmp_path / "民乐县（改）.xlsx", "620722", "2024H1")
    sid2, page2 = upload(minle, clean)
    assert "hx-get" not in minle.get(f"/returns/{sid2}/feedback-link").text
    assert 'id="feedback"' not in page2


def test_the_board_refreshes_its_cells_in_place(desk, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = desk
    city = browser(store, ws, "zhangye")
    page = city.get("/board?form=key-indicators&division=620700").text
    m = re.search(
        r'<tbody id="cells" hx-get="([^"]+)" hx-select="#cells" hx-trigger="every 30s" hx-swap="outerHTML">', page
    )
    assert m, page
    url = m.group(1).replace("&amp;", "&")
    assert url == "/board?form=key-indicators&division=620700"
    minle = browser(store, ws, "minle")
    upload(minle, write_return(tmp_path / "民乐县.xlsx", "620722", "2024H1"))
    again = city.get(url).text  # what the refresh fetches: the new state in the cells it selects
    cells = again[again.index('<tbody id="cells"') : again.index("</tbody>")]
    assert "民乐县" in cells and ">待审<" in cells.replace("\n", "")
