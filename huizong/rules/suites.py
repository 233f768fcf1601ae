"""Run the Great Expectations suites in `expectations/suites/` once over a whole batch.

Each suite names the frame it checks (`meta.frame`, see `huizong.rules.frames`); each
expectation names the rule it enforces (`meta.code`, see `huizong.codes`) and may override
its severity (`meta.severity`). A failing row comes back from GX by our `row_id` and is
turned into an Issue pointing at the county's own sheet and cell.

GX is imported here only, when validation runs (it takes seconds to import; `gximport`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huizong.catalog import CatalogError, Config, FormConfig
from huizong.codes import CODES, make_issue
from huizong.issues import Issue, Severity
from huizong.numbers import shown
from huizong.read.model import Return
from huizong.rules import frames, history, lists
from huizong.rules.frames import Frame
from huizong.rules.history import History

BUILDERS: dict[str, Callable[..., Frame]] = {
    "returns": frames.returns_frame,
    "facts": frames.facts_frame,
    "coverage": frames.coverage_frame,
    "pairs": frames.pairs_frame,
    "ratios": frames.ratios_frame,
    "cumulative": history.cumulative_frame,
    "last_year": history.last_year_frame,
    "jumps": history.jumps_frame,
    "outliers": history.outliers_frame,
}


# frames whose rules compare a return with others of the batch (and the store): run after the rest
LOOKS_BEYOND = frozenset({"cumulative", "outliers", "records", "form-returns", "form-answers"})
LIST_FRAMES = ("records", "form-returns", "form-answers")  # frames of a form's definition (`lists`)


def _answer_in_batch(readable: list[Return], by_file: dict[str, list[Issue]]) -> None:
    """A return of the batch answered by a later one of the same batch shows the issue too, as a
    warning: taken one file at a time it was accepted before the later one arrived."""
    from dataclasses import replace

    for r in readable:
        if any(i.severity is Severity.ERROR for i in by_file.get(r.file, [])):
            continue
        for a in r.answers:
            if a.submission_id is None and a.issue is not None:
                by_file[a.issue.file].append(replace(a.issue, severity=Severity.WARNING))


class SuiteError(CatalogError):
    "A suite file is malformed or names an unknown frame, rule or expectation"


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    frame: str
    rows: int
    evaluated: int
    failed: int
    gx_result: Any  # ExpectationSuiteValidationResult, for Data Docs


def load_suite_specs(suites_dir: Path, patterns: tuple[str, ...] = ("*.json",)) -> list[dict[str, Any]]:
    specs = []
    paths = sorted({p for pattern in patterns for p in suites_dir.glob(pattern)})
    for path in paths:
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise SuiteError(f"{path}:{e.lineno}: JSON 格式错误：{e.msg}") from e
        except (OSError, UnicodeDecodeError) as e:
            raise SuiteError(f"{path}: {e}") from e
        if not isinstance(spec, dict) or not isinstance(spec.get("expectations", []), list):
            raise SuiteError(f"{path}: 应为含 expectations 列表的对象")
        frame = (spec.get("meta") or {}).get("frame")
        if frame not in BUILDERS:
            raise SuiteError(f"{path}: meta.frame {frame!r} is not one of {sorted(BUILDERS)}")
        for exp in spec.get("expectations", []):
            code = exp.get("meta", {}).get("code")
            if code not in CODES:
                raise SuiteError(f"{path}: expectation {exp.get('type')} has unknown meta.code {code!r}")
        specs.append(spec)
    return specs


def quiet_gx() -> None:
    """GX logs at INFO from its own child loggers, warns about tqdm, and logs a full traceback at
    ERROR before it raises (a full disk: 37 lines above huizong's one); the exception it raises is
    what counts, and the CLI says it in one line. None of GX's logging reaches the terminal."""
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())  # a handler, so that logging's last resort never prints


class Validator:
    """Holds one ephemeral GX context with every suite loaded; `run` validates a batch."""

    def __init__(self, config: Config, region: str, docs_dir: Path | None = None) -> None:
        from huizong.rules.gximport import import_gx

        gx = import_gx()
        from great_expectations.core.expectation_suite import ExpectationSuite
        from great_expectations.data_context.types.base import ProgressBarsConfig

        quiet_gx()  # after the import: GX sets its loggers' levels when it loads

        self.config, self.region = config, region
        from great_expectations.validator.v1_validator import Validator as V1Validator

        self._v1 = V1Validator
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.context.data_sources.add_pandas("huizong")
        actions: list[Any] = []
        self.docs = docs_dir is not None
        if docs_dir is not None:  # GX Data Docs of the suite runs, as a static site, built once per run
            site: Any = {
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(docs_dir).resolve()),
                },
            }
            self.context.add_data_docs_site(site_name="huizong", site_config=site)
        self.definitions: dict[str, Any] = {}
        self.frames_of: dict[str, str] = {}
        self.form_of: dict[str, str | None] = {}  # suite -> the form whose returns it checks (None: every return)
        self.value_sets: dict[str, dict[str, set[str]]] = {}  # suite -> value-set parameter -> columns it checks
        for spec, form_id in self._specs():
            try:
                suite = ExpectationSuite(**spec)
            except Exception as e:  # GX raises several types for a malformed suite
                raise SuiteError(f"{config.suites_dir}: 套件 {spec.get('name')!r} 无法构建：{e}".splitlines()[0]) from e
            if len(suite.expectations) != len(spec["expectations"]):  # GX drops what it cannot build
                raise SuiteError(
                    f"suite {spec['name']}: GX built {len(suite.expectations)} of "
                    f"{len(spec['expectations'])} expectations"
                )
            suite = self.context.suites.add(suite)
            asset = source.add_dataframe_asset(spec["name"])
            batch = asset.add_batch_definition_whole_dataframe("batch")
            vd = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=spec["name"], data=batch, suite=suite)
            )
            checkpoint = gx.Checkpoint(
                name=spec["name"],
                validation_definitions=[vd],
                actions=actions,
                result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["row_id"]},
            )
            self.definitions[spec["name"]] = self.context.checkpoints.add(checkpoint)
            self.frames_of[spec["name"]] = spec["meta"]["frame"]
            self.value_sets[spec["name"]] = _value_set_parameters(spec)
            self.form_of[spec["name"]] = form_id
        counties = config.divisions
        z = config.rules.history.outlier_z
        self.parameters = {
            "county_codes": counties.county_codes,
            "region_county_codes": [d.code for d in counties.counties_of(region)],
            "outlier_z_min": -z,
            "outlier_z_max": z,
        }
        self.parameters["city_county_codes"] = self.parameters["region_county_codes"]  # its name in older suites

    def _specs(self) -> list[tuple[dict[str, Any], str | None]]:
        """Every suite with the form it checks: the `returns` suites once for every return; each
        form's suites (form.toml `suites`) for its returns, named after the form beyond the first;
        the suites a form's definition implies (`lists.suites_for`)."""
        out: list[tuple[dict[str, Any], str | None]] = []
        seen: set[str] = set()
        root = self.config.root
        for n, form in enumerate(self.config.forms):
            for spec in load_suite_specs(root, form.suites):
                if spec["meta"]["frame"] == "returns":
                    if spec["name"] not in seen:
                        seen.add(spec["name"])
                        out.append((spec, None))
                    continue
                named = spec if n == 0 else {**spec, "name": f"{form.id}.{spec['name']}"}
                out.append((named, form.id))
        if not seen:  # every return's county and period are checked, whichever forms name the suite
            out += [
                (spec, None) for spec in load_suite_specs(self.config.suites_dir) if spec["meta"]["frame"] == "returns"
            ]
        for form in self.config.forms:
            out += [(spec, form.id) for spec in lists.suites_for(form, self.config.forms)]
        return out

    def run(self, returns: list[Return], store: Any = None) -> tuple[dict[str, list[Issue]], list[SuiteResult]]:
        """Issues by file (reading issues included) and one result per suite run.

        `store`: what the ledger holds, for the rules that compare with other periods (each form's
        own history) and for the rules of every form's definition that look beyond the batch."""
        try:
            return self._run(returns, store)
        finally:
            lists.forget_tables()  # the batch's records tables, shared by its rules

    def _run(self, returns: list[Return], store: Any) -> tuple[dict[str, list[Issue]], list[SuiteResult]]:
        readable = [r for r in returns if r.readable]
        by_file: dict[str, list[Issue]] = defaultdict(list)
        for r in returns:
            by_file[r.file].extend(r.issues)
        for form in self.config.forms:
            lists.measure(readable, form)
        built: dict[tuple[str | None, str], Frame] = {}
        order = {id(r): n for n, r in enumerate(readable)}  # arrival order: the batch's own
        refused: set[int] = set()
        stores: dict[str, History] = {}

        def build(form_id: str | None, frame_name: str) -> Frame:
            if form_id is None:
                return BUILDERS[frame_name](readable, self.config, History())
            form = self.config.form_by_id[form_id]
            view = self.config.for_form(form_id)
            mine = [r for r in readable if r.form == form_id]
            if frame_name in LIST_FRAMES:
                beyond = lists.beyond_for(store, self.config, form, readable)
                beyond.order, beyond.refused = order, refused
                if frame_name == "form-answers":
                    return lists.answers_frame(readable, self.config, form, beyond, store)
                maker = lists.records_frame if frame_name == "records" else lists.returns_frame
                return maker(readable, self.config, form, beyond)
            if form_id not in stores:
                stores[form_id] = history.history_for(store, view, self.region, mine)
            hist = stores[form_id]
            hist.order, hist.refused = order, refused
            return BUILDERS[frame_name](mine, view, hist)

        # Two phases, so that the batch is judged as the nights would judge its files one at a time:
        # first the rules that look at a return alone; the returns they refuse then never count for
        # the rules that compare a return with the others (they would never have reached the store).
        late = [n for n in self.definitions if self.frames_of[n] in LOOKS_BEYOND]
        results = []
        for phase in ([n for n in self.definitions if n not in late], late):
            if phase is late:
                errors = {f for f, found in by_file.items() if any(i.severity is Severity.ERROR for i in found)}
                refused |= {id(r) for r in readable if r.file in errors}
            for suite_name in phase:
                form_id, frame_name = self.form_of[suite_name], self.frames_of[suite_name]
                if (form_id, frame_name) not in built:
                    built[(form_id, frame_name)] = build(form_id, frame_name)
                results.append(self._run_suite(suite_name, built[(form_id, frame_name)], by_file))
        _answer_in_batch(readable, by_file)
        if self.docs and any(r.gx_result is not None for r in results):
            self.context.build_data_docs(site_names=["huizong"])  # once per run, not once per suite
        return dict(by_file), results

    def _run_suite(self, suite_name: str, frame: Frame, by_file: dict[str, list[Issue]]) -> SuiteResult:
        form_id = self.form_of[suite_name]
        if frame.data.empty:
            return SuiteResult(suite_name, frame.name, 0, 0, 0, None)
        checkpoint = self.definitions[suite_name]
        batch, parameters = {"dataframe": frame.data}, self._parameters(suite_name, frame)
        if self.docs:  # through the checkpoint, whose stored results the Data Docs are built from
            run = checkpoint.run(batch_parameters=batch, expectation_parameters=parameters)
            res = next(iter(run.run_results.values()))
        else:  # the same suite and batch, validated without storing the result in the context (a desk
            # that judges uploads for weeks would keep every one) or checking the definitions again
            definition = checkpoint.validation_definitions[0]
            res = self._v1(
                batch_definition=definition.batch_definition,
                batch_parameters=batch,
                result_format=checkpoint.result_format,
            ).validate_expectation_suite(definition.suite, parameters)
        failed = 0
        for r in res.results:
            cfg = r.expectation_config
            for entry in r.result.get("unexpected_index_list") or []:
                if self.frames_of[suite_name] == "form-answers":
                    assert form_id is not None
                    issue = lists.answer_issue(
                        frame, self.config.form_by_id[form_id], self.config, cfg.meta or {}, int(entry["row_id"])
                    )
                elif self.frames_of[suite_name] in LIST_FRAMES:
                    assert form_id is not None
                    issue = lists.issue_for(
                        frame, self.config.form_by_id[form_id], self.config, cfg.meta or {}, int(entry["row_id"])
                    )
                else:
                    view = None if form_id is None else self.config.for_form(form_id)
                    issue = self._issue(frame, cfg.meta or {}, cfg.kwargs, entry, view)
                by_file[issue.file].append(issue)
                failed += 1
        return SuiteResult(suite_name, frame.name, len(frame.data), len(res.results), failed, res)

    def _parameters(self, suite_name: str, frame: Frame) -> dict[str, Any]:
        """The suite's parameters, each value set cut to the values its columns hold in this frame.

        The verdicts are the same (a value is in the set or not), but GX copies an expectation's
        arguments a few hundred times a run: a set of the nation's 2,849 county codes made that
        half of the time one new return took to validate."""
        params: dict[str, Any] = dict(self.parameters)
        for name, columns in self.value_sets[suite_name].items():
            if not isinstance(params.get(name), list | tuple | set | frozenset):
                continue
            held: set[Any] = set()
            for column in columns & set(frame.data.columns):
                held.update(v for v in frame.data[column].tolist() if isinstance(v, Hashable) and v == v)
            params[name] = [v for v in params[name] if v in held]
        return params

    def _issue(
        self,
        frame: Frame,
        meta: dict[str, Any],
        kwargs: dict[str, Any],
        entry: dict[str, Any],
        config: FormConfig | None,
    ) -> Issue:
        code = meta["code"]
        severity = Severity(meta["severity"]) if meta.get("severity") else None
        ctx = frame.context[int(entry["row_id"])]
        file = ctx["file"]
        if frame.name == "returns":
            region = self.config.divisions.get(self.region)
            if meta.get("locate") == "period":
                return make_issue(
                    code,
                    file,
                    sheet=ctx["period_sheet"],
                    cell=ctx["period_cell"],
                    value=ctx["period_value"],
                    expected=ctx["period_expected"],
                    detail=ctx.get("period_zh", ""),
                    severity=severity,
                )
            return make_issue(
                code,
                file,
                sheet=ctx["sheet"],
                cell=ctx["cell"],
                value=ctx["value"],
                name=ctx["name"],
                detail=ctx["detail"],
                region=region.name if region else self.region,
                severity=severity,
            )
        assert config is not None  # every frame but `returns` is one form's
        if frame.name == "pairs":
            big, small = kwargs["column_A"], kwargs["column_B"]
            cat = config.catalog
            detail = f"{cat[big].name}（{big}）{shown(entry.get(big))}"
            return make_issue(
                code,
                file,
                sheet=ctx["sheet"],
                cell=ctx["cells"].get(small),
                indicator=small,
                value=shown(entry.get(small)),
                name=cat[small].name,
                detail=detail,
                severity=severity,
            )
        words = _words(config)
        fields = {k: v for k, v in ctx.items() if k not in {"file", "sheet", "cell", "indicator", "value"}}
        if meta.get("detail"):
            fields["detail"] = ctx.get(meta["detail"])
        if "number" in fields:
            fields["number"] = shown(fields["number"])
        return make_issue(
            code,
            file,
            sheet=ctx.get("sheet"),
            cell=ctx.get("cell"),
            indicator=ctx.get("indicator"),
            value=ctx.get("value"),
            severity=severity,
            **{**words, **fields},
        )


def _value_set_parameters(spec: dict[str, Any]) -> dict[str, set[str]]:
    """`{"$PARAMETER": name}` value sets of a suite's expectations, with the columns they check."""
    found: dict[str, set[str]] = defaultdict(set)
    for exp in spec.get("expectations", []):
        kwargs = exp.get("kwargs") or {}
        value_set, column = kwargs.get("value_set"), kwargs.get("column")
        if isinstance(value_set, dict) and isinstance(value_set.get("$PARAMETER"), str) and isinstance(column, str):
            found[value_set["$PARAMETER"]].add(column)
    return dict(found)


def _words(config: FormConfig) -> dict[str, str]:
    """The form's own words for messages: its column labels and its name."""
    form = config.form
    labels = form.role_labels
    return {
        "value_label": labels["value"],
        "last_label": labels["last_year"],
        "form": form.short_name,
    }


_VALIDATORS: dict[tuple[int, str, str], Validator] = {}
_BUILDING = threading.Lock()
KEPT_VALIDATORS = 4


def validator_for(config: Config, region: str, docs_dir: Path | None = None) -> Validator:
    """One Validator per config, region and docs folder in a process: building it costs seconds."""
    key = (id(config), region, str(docs_dir))
    with _BUILDING:
        if key not in _VALIDATORS:
            _VALIDATORS[key] = Validator(config, region, docs_dir)
            for old in list(_VALIDATORS)[:-KEPT_VALIDATORS]:  # a long-lived process: the newest few
                del _VALIDATORS[old]
        return _VALIDATORS[key]


def prepare(config: Config, region: str, docs_dir: Path | None = None) -> None:
    """Build the Validator on a thread of its own, while the run reads its files: in a fresh
    process that is importing GX (1.7 s), and the main thread mostly waits on the bounded readers
    then. A failure here is left for `validator_for` to meet and report."""
    if (id(config), region, str(docs_dir)) in _VALIDATORS:
        return

    def build() -> None:
        with contextlib.suppress(Exception):
            validator_for(config, region, docs_dir)

    threading.Thread(target=build, name="huizong-validator", daemon=True).start()
