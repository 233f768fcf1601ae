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
    """Paths under `outputs/`. Every form's outputs of a period go where its definition's `outputs`
    pattern says (`<region>/<form>/<period>/` unless it says otherwise); what concerns every
    period of a form (its reporting status) goes in the folder above."""

    outputs: Path

    def template(self, county_name: str, period: str, form: Form) -> Path:
        """A blank template for a county (`huizong template` without `-o`)."""
        return self.outputs / "templates" / safe_component(f"{county_name}_{period}_{form.short_name}.xlsx")

    # the contract files
    @property
    def submissions_csv(self) -> Path:
        return self.outputs / "submissions.csv"

    def period_dir(self, region: str, period: str, form: Form) -> Path:
        return self.outputs / form.period_dir(region, period)

    def form_dir(self, region: str, form: Form) -> Path:
        return self.outputs / form.form_dir(region)

    def totals_csv(self, region: str, period: str, form: Form) -> Path:
        """The region's totals (a city's, a province's or the nation's), one row per indicator."""
        return self.period_dir(region, period, form) / "totals.csv"

    def counties_csv(self, region: str, period: str, form: Form) -> Path:
        """Each county's numbers, one row per county and indicator."""
        return self.period_dir(region, period, form) / "counties.csv"

    def issues_csv(self, region: str, period: str, form: Form) -> Path:
        return self.period_dir(region, period, form) / "issues.csv"

    def records_csv(self, region: str, period: str, form: Form) -> Path:
        """A list form's records of the accepted returns (合同明细)."""
        return self.period_dir(region, period, form) / "records.csv"

    def workbook(self, region: str, region_name: str, period: str, form: Form) -> Path:
        return self.period_dir(region, period, form) / form.workbook_name(safe_component(region_name, 60), period)

    # refreshed by every run: they depend on today's date
    def report_draft(self, region: str, region_name: str, period: str, form: Form, template: Path) -> Path:
        """A report template filled for a region's period (`publish.report`), beside its workbook."""
        return self.period_dir(region, period, form) / safe_component(f"{template.stem}_{region_name}_{period}.docx")

    def reporting_workbook(self, region: str, region_name: str, form: Form) -> Path:
        name = f"报送情况_{form.short_name}_{region_name}"
        return self.form_dir(region, form) / f"{safe_component(name, 80)}.xlsx"

    def reporting_csv(self, region: str, form: Form) -> Path:
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

    def validation_page(self, region: str, period: str, form: Form) -> Path:
        return self.validation_dir / f"{form.period_dir(region, period)}.html"

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
