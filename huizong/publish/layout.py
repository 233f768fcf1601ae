"""The one place that knows every output path (like datasette's `Urls`).

Every writer and every link asks a `Layout`; nothing else joins names under `outputs/`. Paths
derived from a county's file name are made safe and short (`safe_component`), and a feedback
workbook's name carries the submission's number, so two files never share an output.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huizong.forms.model import Form
from huizong.ledger.inbox import safe_component


@dataclass(frozen=True)
class Layout:
    """Paths under `outputs/`. A form's outputs go where its definition's `outputs` pattern says
    (`{region}/{form}/{period}` unless it says otherwise; the key-indicator form keeps
    `{region}/{period}`); without a form, the paths of the key-indicator form as they always were."""

    outputs: Path

    # the contract files
    @property
    def submissions_csv(self) -> Path:
        return self.outputs / "submissions.csv"

    def period_dir(self, region: str, period: str, form: Form | None = None) -> Path:
        return self.outputs / (form.period_dir(region, period) if form else f"{region}/{period}")

    def form_dir(self, region: str, form: Form | None = None) -> Path:
        return self.outputs / (form.form_dir(region) if form else region)

    def totals_csv(self, region: str, period: str, form: Form | None = None) -> Path:
        return self.period_dir(region, period, form) / "city_totals.csv"

    def issues_csv(self, region: str, period: str, form: Form | None = None) -> Path:
        return self.period_dir(region, period, form) / "issues.csv"

    def records_csv(self, region: str, period: str, form: Form) -> Path:
        """A list form's records of the accepted returns (合同明细)."""
        return self.period_dir(region, period, form) / "records.csv"

    def workbook(self, region: str, region_name: str, period: str, form: Form | None = None) -> Path:
        name = safe_component(region_name, 60)
        file = form.workbook_name(name, period) if form else f"汇总_{name}_{period}.xlsx"
        return self.period_dir(region, period, form) / file

    # refreshed by every run: they depend on today's date
    def reporting_workbook(self, region: str, region_name: str, form: Form | None = None) -> Path:
        return self.form_dir(region, form) / f"报送情况_{safe_component(region_name, 60)}.xlsx"

    def reporting_csv(self, region: str, form: Form | None = None) -> Path:
        return self.form_dir(region, form) / "reporting.csv"

    # for the counties
    @property
    def feedback_dir(self) -> Path:
        return self.outputs / "feedback"

    def feedback(self, submission_id: int, file: str) -> Path:
        """`feedback/<submission no.>_<file stem>_反馈.xlsx`: unique per submission by construction."""
        return self.feedback_dir / f"{submission_id:05d}_{safe_component(Path(file).stem, 150)}_反馈.xlsx"

    # the analyst's pages
    @property
    def validation_dir(self) -> Path:
        return self.outputs / "validation"

    def validation_page(self, region: str, period: str, form: Form | None = None) -> Path:
        where = form.period_dir(region, period) if form else f"{region}/{period}"
        return self.validation_dir / f"{where}.html"

    @property
    def validation_index(self) -> Path:
        return self.validation_dir / "index.html"

    @property
    def gx_docs(self) -> Path:
        return self.validation_dir / "gx"

    @property
    def gx_index(self) -> Path:
        return self.gx_docs / "index.html"

    @staticmethod
    def href(target: Path, page: Path) -> str:
        """A link from `page` to `target`, relative, "/"-separated."""
        return Path(os.path.relpath(target, page.parent)).as_posix()
