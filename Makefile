# Every target that needs Python creates .venv and installs the project first,
# so `make run` or `make test` is the only command a fresh clone needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit postgres bench clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python worker.py --dev

# PostgreSQL is started by the machine; start it if it is down so the
# persistence tests always run against a real server.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@pg_isready -h 127.0.0.1 -p 5432

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) postgres lint typecheck
	$(BIN)/pytest

bench: $(STAMP) postgres
	$(BIN)/python bench/record_command.py
	$(BIN)/python bench/workflow_throughput.py
	$(BIN)/python bench/workflow_memory.py
	$(BIN)/python bench/replay_verify.py

clean:
	rm -rf $(VENV) var/*.db var/*.sqlite
