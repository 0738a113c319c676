# Debrief — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
export SURVEY_CONFIG ?= development
# The Nu HTML Checker for tests/test_html_validity.py (npm's vnu-jar; it runs with Java). Without
# npm that one test is skipped with the reason, and make tries again next time.
VNU_JAR := .cache/vnu/node_modules/vnu-jar/build/dist/vnu.jar
# The web server's port for `make run` (the mail catcher listens on MAIL_PORT, default 1025).
RUN_PORT ?= 5000

.PHONY: run test fuzz install lint bench bench-survey bench-mail bench-reports bench-throttle soak clean screenshots translations

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/activate

install: $(BIN)/activate

run: install
	$(FLASK) db upgrade
	$(FLASK) demo seed
	@$(FLASK) demo logins
	@echo "Open http://127.0.0.1:$(RUN_PORT)/login — caught mail: http://127.0.0.1:$(RUN_PORT)/dev/mail (Ctrl-C stops everything)"
	@$(FLASK) dev serve --host 127.0.0.1 --port $(RUN_PORT)

test: install lint $(VNU_JAR)
	SURVEY_CONFIG=testing $(BIN)/pytest $(PYTEST_ARGS)

$(VNU_JAR):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix .cache/vnu --ignore-scripts --no-audit --no-fund --silent vnu-jar@26.9.27 \
		|| echo "npm could not install vnu-jar: the HTML validity test will be skipped"; \
	else echo "npm is not installed: the HTML validity test will be skipped"; fi

# Photographs pages built from demo data into docs/screenshots/ (needs /usr/bin/chromium).
screenshots: install
	PYTHONPATH=tests $(BIN)/python -m browser.screenshots

# The fuzz tests with the "fuzz" Hypothesis profile: many more examples than `make test` runs.
fuzz: install
	SURVEY_CONFIG=testing HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/test_fuzz.py --hypothesis-show-statistics

# Schemathesis against the API under gunicorn with many more examples per operation than `make test`.
.PHONY: fuzz-api
fuzz-api: install
	SURVEY_CONFIG=testing SCHEMATHESIS_MAX_EXAMPLES=$${SCHEMATHESIS_MAX_EXAMPLES:-500} $(BIN)/pytest tests/test_schemathesis.py -s

# HR reports at each SCALE (demo interviews), on SQLite and PostgreSQL; each database is seeded
# once and reused (docs/performance.md). A million takes some minutes to seed the first time.
SCALE ?= 10000 100000 1000000
bench-reports: install
	$(BIN)/python -m bench.bench_reports sqlite $(SCALE)
	$(BIN)/python -m bench.bench_reports postgresql $(SCALE)

# Re-extract translatable strings and merge them into every catalog (translations/*/LC_MESSAGES/*.po);
# the app compiles the catalogs itself when it starts (docs/question-sets.md).
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-wrap --sort-by-file -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-wrap

lint: install
	$(BIN)/ruff check survey tests bench scripts config.py wsgi.py gunicorn.conf.py

# Benchmarks print their figures; each runs on SQLite, then on a throwaway PostgreSQL
# (set BENCH_DATABASE_URL to use a running server instead).
bench: bench-survey bench-mail bench-reports bench-throttle

bench-survey: install
	$(BIN)/python -m bench.survey_http sqlite
	$(BIN)/python -m bench.survey_http postgresql

bench-mail: install
	$(BIN)/python -m bench.mail sqlite
	$(BIN)/python -m bench.mail postgresql

bench-throttle: install
	$(BIN)/python -m bench.throttle_storage

# Minutes of load on PostgreSQL with a killed worker and a database restart, then an integrity
# audit (docs/operations.md). Not part of `make test`. SOAK_SECONDS, SOAK_USERS, SOAK_FAULTS=0.
soak: install
	$(BIN)/pip install --quiet -r requirements-soak.txt
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache
