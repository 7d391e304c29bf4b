# The two quick-start commands: `make run` and `make test`.  Each creates .venv and
# installs what it needs on a fresh machine (Python >= 3.11; llama-cpp-python builds
# from source in a few minutes the first time, then pip's wheel cache is reused).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

CHROMIUM := /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run demo test lint setup browser clean messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

# The main job: serve the embedded Gemma 3 270M (OpenAI + Ollama APIs, web UI at /).
run: $(STAMP)
	$(BIN)/llmatlas run gemma-3-270m "Open-weight LLMs are" --temperature 0 --max-tokens 24 --verbose
	$(BIN)/llmatlas serve gemma-3-270m

demo: $(STAMP)
	$(BIN)/llmatlas run gemma-3-270m "The three best open-weight LLMs to self-host on a laptop are" \
		--temperature 0 --max-tokens 64 --verbose

# Debian's Chromium for the browser tests (never a browser downloaded by a test tool), and a
# CJK font so the zh-TW/zh-CN pages are drawn (and measured for overflow) with real glyphs.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null

browser: $(CHROMIUM)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: lint $(CHROMIUM)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

# Refresh the message catalogs after changing user-facing strings: extract the msgids (CLI:
# _(), N_(), ngettext(), Error.translatable(); web UI: t(), tn(), N_(); the licence conditions,
# summarised in the `catalog` domain) and merge them into each language's .po (a changed
# original turns its entry fuzzy); then translate the new entries. The .po files are read
# at run time: nothing to compile.
LOCALE := src/llmatlas/locale
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F $(LOCALE)/babel.cfg -k _ -k N_ -k ngettext:1,2 -k translatable \
		--no-location --sort-output -o $(LOCALE)/cli.pot src/llmatlas
	for l in zh_TW zh_CN; do $(BIN)/pybabel -q update --init-missing -N --ignore-obsolete --no-wrap \
		-D cli -l $$l -i $(LOCALE)/cli.pot -d $(LOCALE); done
	rm $(LOCALE)/cli.pot
	$(BIN)/pybabel -q extract -F $(LOCALE)/babel-ui.cfg -k t -k tn:1,2 -k N_ --no-default-keywords \
		--no-location --sort-output -o $(LOCALE)/ui.pot src/llmatlas/server/static/js
	for l in zh_TW zh_CN; do $(BIN)/pybabel -q update --init-missing -N --ignore-obsolete --no-wrap \
		-D ui -l $$l -i $(LOCALE)/ui.pot -d $(LOCALE); done
	rm $(LOCALE)/ui.pot
	$(BIN)/python -c "import sys; from babel.messages.catalog import Catalog; \
		from babel.messages.pofile import write_po; from llmatlas.catalog import load; \
		c = Catalog(domain='catalog'); d = load(); [c.add(x.conditions, auto_comments=['license ' + x.id]) \
		for x in d.licenses.values()]; [c.add(f.description, auto_comments=['family ' + f.family]) \
		for f in d.families.values()]; write_po(sys.stdout.buffer, c, sort_output=True)" \
		> $(LOCALE)/catalog.pot
	for l in zh_TW zh_CN; do $(BIN)/pybabel -q update --init-missing --ignore-obsolete --no-wrap \
		-D catalog -l $$l -i $(LOCALE)/catalog.pot -d $(LOCALE); done
	rm $(LOCALE)/catalog.pot
