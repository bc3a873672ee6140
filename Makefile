# Set-up and the two entry points of the README. Everything installs into .venv.
VENV   ?= .venv
PYTHON ?= python3
CORES  ?= 2
BIN    := $(VENV)/bin

.PHONY: demo test report bundle lint status demo-status

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[pipeline,dev]"
	touch $@

## demo: the whole pipeline on the generated demo data, then its report (report/demo.html)
# the demo is the full study's config with config/demo.yaml laid over it
DEMO := --configfile config/config.yaml config/demo.yaml

demo: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES) $(DEMO)
	$(BIN)/snakemake --cores 1 $(DEMO) --report report/demo.html

## test: unit and integration tests (CI runs exactly this)
test: $(BIN)/.installed
	$(BIN)/python -m pytest

## status: where the full study stands (run it in a second terminal; WATCH=10 refreshes)
status: $(BIN)/.installed
	$(BIN)/python -m cnnstudy status --configfile config/config.yaml $(if $(WATCH),--watch $(WATCH))

## demo-status: the same for the demo, while make demo runs
demo-status: $(BIN)/.installed
	$(BIN)/python -m cnnstudy status --configfile config/config.yaml config/demo.yaml $(if $(WATCH),--watch $(WATCH))

## report: (re)build the report of the full study after it has run: a zip (report/report.zip,
## open report/report.html inside it), as Snakemake recommends for large reports
report: $(BIN)/.installed
	$(BIN)/snakemake --cores 1 --report report/report.zip

## bundle: what the last run concluded (results/bundle.zip, which every run of the pipeline
## writes: tables, run summaries, config, provenance), verified, its members listed with sha256
bundle: $(BIN)/.installed
	$(BIN)/python -m cnnstudy bundle results/bundle.zip

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint $(DEMO)
	$(BIN)/snakefmt --check .
