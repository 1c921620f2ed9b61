# Every target that needs Python creates .venv and installs the project first,
# so `make run` or `make test` is the only command a fresh clone needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit postgres browser bench clean install

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

# The browser test drives Debian's Chromium through Debian's chromedriver (no
# driver or browser download), with CJK fonts so Hangul renders. CI runs as root
# on a machine of this kind: install them once, quietly, only when missing.
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-cjk
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || \
	    ! fc-list :lang=ko 2>/dev/null | grep -q .; then \
	  echo "installing $(BROWSER_PACKAGES) (apt-get)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq >/dev/null && \
	  apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) postgres browser lint typecheck
	$(BIN)/pytest

# The rules alone (tests/unit): no store, no Temporal, no server; seconds.
unit: $(STAMP)
	$(BIN)/pytest tests/unit

bench: $(STAMP) postgres
	$(BIN)/python bench/record_command.py
	$(BIN)/python bench/workflow_throughput.py
	$(BIN)/python bench/workflow_memory.py
	$(BIN)/python bench/replay_verify.py
	$(BIN)/python bench/first_load.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/projection_catchup.py
	$(BIN)/python bench/wrapped_keys.py
	$(BIN)/python bench/cli_startup.py

clean:
	rm -rf $(VENV) var/*.db var/*.sqlite
