# cgtqc: `make demo` installs everything and runs the demo; `make test` installs everything and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEBS := chromium chromium-driver postgresql poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core minimap2 samtools curl gcc python3-dev

.PHONY: demo test lint debs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# the example lab engine (examples/cgtqc-cellcount) is installed too: the tests check it registers
$(STAMP): pyproject.toml examples/cgtqc-cellcount/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]' -e examples/cgtqc-cellcount
	touch $(STAMP)

# HTMX for the web pages, packed from the npm registry at install time into the venv (never committed);
# without it the pages still work as plain forms
HTMX := $(VENV)/share/cgtqc/htmx.min.js
$(HTMX): | $(BIN)/python
	@mkdir -p $(@D); tmp=$$(mktemp -d); \
	(cd $$tmp && npm pack --silent htmx.org@2 >/dev/null) && tar -xzf $$tmp/htmx.org-*.tgz -C $$tmp package/dist/htmx.min.js \
	&& mv $$tmp/package/dist/htmx.min.js $@ \
	|| echo "warning: npm pack htmx.org@2 failed; the pages work without HTMX, as plain forms" >&2; rm -rf $$tmp

debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: debs $(STAMP) $(HTMX)
	$(BIN)/cgtqc demo --out demo-workspace

lint: $(STAMP)
	$(BIN)/ruff check src tests examples $(wildcard benchmarks)
	$(BIN)/lint-imports

test: debs $(STAMP) $(HTMX) lint
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache
