# smartlib: `make demo` runs the demo library, `make test` runs every test.
# Each target installs what it needs first, so both work from a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
# Debian packages the tests drive for real (command -> package).
SYSTEM_TOOLS := chromium:chromium prusa-slicer:prusa-slicer zebrasrv:idzebra-2.0 \
	yaz-marcdump:yaz pdftoppm:poppler-utils node:nodejs npm:npm
SYSTEM_FILES := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:fonts-dejavu-core \
	/usr/share/doc/idzebra-2.0/examples:idzebra-2.0-examples

.PHONY: demo serve test venv node system services octoprint lint format bench clean

demo: venv node
	SMARTLIB_DATA_DIR=$${SMARTLIB_DATA_DIR:-var} $(BIN)/smartlib demo --host $(HOST) --port $(PORT)

serve: venv node
	$(BIN)/smartlib serve --host $(HOST) --port $(PORT)

test: venv node system services octoprint
	$(BIN)/pytest -q

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

node: node_modules/.installed bench/peers/node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || $(MAKE) system
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Peers the benchmarks and some tests compare against (gltfpack, reference glTF decoders).
bench/peers/node_modules/.installed: bench/peers/package.json bench/peers/package-lock.json
	npm ci --prefix bench/peers --no-audit --no-fund --loglevel=error
	touch $@

# OctoPrint (with its virtual printer) in a venv of its own: it pins many packages.
octoprint: venv
	$(BIN)/python -m makerspace.octoprint_env

# Installs missing Debian packages only (apt-get needs root, as on CI).
system:
	@missing=""; \
	for pair in $(SYSTEM_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	for pair in $(SYSTEM_FILES); do \
	  test -e "$${pair%%:*}" || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# PostgreSQL and Redis run on the test machines; start them if they were stopped.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  command -v pg_ctlcluster >/dev/null && \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start; } || true
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || { \
	  command -v redis-server >/dev/null && redis-server --daemonize yes --bind 127.0.0.1 \
	  --port 6379 --save "" --appendonly no; } || true

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv node system octoprint
	@for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf var .pytest_cache
