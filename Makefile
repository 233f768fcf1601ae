# huizong: `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
DEV    := $(VENV)/.dev-$(shell cat requirements.lock requirements-dev.lock pyproject.toml | sha256sum | cut -c1-12)

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: setup dev browser postgres run demo test lint format bench docs screenshots clean

# The package's own bytecode is written here, as pip writes it for every library it installs: an
# editable install where Python may not write it (PYTHONDONTWRITEBYTECODE) would otherwise compile
# huizong's modules from source in every fresh process (0.2 s of a run, in each of its workers too).
setup: $(STAMP)
	@$(BIN)/python -m compileall -q huizong flows >/dev/null

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip==25.3" "setuptools==80.9.0"
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

# The development tools (pytest, ruff, mypy, Playwright, hypothesis, mkdocs…): for `make test`, `make lint`, `make docs`.
dev: $(DEV)

$(DEV): $(STAMP) requirements-dev.lock
	$(BIN)/pip install --quiet -r requirements-dev.lock
	rm -f $(VENV)/.dev-* && touch $@

# First run on a machine: write the demo returns for 张掖市 into inputs/, then run the flow.
# Later runs process whatever has arrived in inputs/.
run: setup
	@test -e store/huizong.db || $(BIN)/huizong demo --inputs inputs >/dev/null
	$(BIN)/huizong run

demo: setup
	$(BIN)/huizong demo --inputs inputs

# Debian's Chromium and CJK fonts, for the screenshot test of the validation page and the desk's
# browser tests, which Playwright drives (root, as CI is).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null; } \
		|| echo "warning: could not install chromium (apt needs root); the browser tests will be skipped"

# Debian's PostgreSQL server binaries, for the tests that run the store on PostgreSQL too. No
# cluster of Debian's is created or started: the tests start a throw-away one on a free port.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && mkdir -p /etc/postgresql-common \
		&& echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; } \
		|| echo "warning: could not install postgresql (apt needs root); its tests will be skipped outside CI"

test: dev browser postgres
	$(BIN)/pytest -q

lint: dev
	$(BIN)/ruff check huizong flows tests benchmarks
	$(BIN)/ruff format --check huizong flows tests benchmarks
	$(BIN)/mypy

format: dev
	$(BIN)/ruff format huizong flows tests benchmarks
	$(BIN)/ruff check --fix huizong flows tests benchmarks

bench: setup
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_hostile.py
	$(BIN)/python benchmarks/bench_screen.py
	$(BIN)/python benchmarks/bench_national.py
	$(BIN)/python benchmarks/bench_contracts.py
	$(BIN)/python benchmarks/bench_before_after.py
	$(BIN)/python benchmarks/bench_loop.py
	$(BIN)/python benchmarks/bench_desk.py

# The docs site (mkdocs.yml, docs/) built into site/; any warning fails it.
docs: dev
	$(BIN)/mkdocs build --strict --site-dir site

# The user manual's screenshots (docs/images/desk/), taken by the browser test of the desk's story.
screenshots: dev browser
	HUIZONG_SCREENSHOTS=$(CURDIR)/docs/images/desk $(BIN)/pytest -q tests/test_desk_browser.py

clean:
	rm -rf $(VENV) .prefect .pytest_cache .mypy_cache .ruff_cache site
