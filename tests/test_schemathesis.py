"""Schemathesis, the reference OpenAPI fuzzer, against the app served by gunicorn on loopback:
every documented operation, positive and negative data, every check; zero failures allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from processes import ROOT, Gunicorn

from survey.services.accounts import create_api_key, create_user

pytestmark = pytest.mark.slow

# Enough to matter on every run; `make fuzz-api` raises it (SCHEMATHESIS_MAX_EXAMPLES, default 500 there).
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "60"))


def test_schemathesis_finds_no_server_error_and_no_schema_violation(app, tmp_path):
    # The recruiter of the document's example request, so the example creates a real interview.
    create_user("alex.morgan@example.com", "Alex Morgan", "recruiter", "password-123")
    _, key = create_api_key("schemathesis", "interviews:write,interviews:read,interviews:read-all")
    report = tmp_path / "schemathesis.json"
    with Gunicorn(app, workers=1, threads=4) as server:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file",
                str(Path(__file__).with_name("schemathesis.toml")),
                "--no-color",
                "run",
                f"http://127.0.0.1:{server.port}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {key}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",  # why: tests/schemathesis.toml
                "--mode",
                "all",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                "13",
                "--workers",
                "1",
                "--report",
                "json",
                "--report-json-path",
                str(report),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=540,
        )
        log = server.output()
    output = result.stdout + result.stderr
    print(output)  # the figures (operations, test cases, failures) for the CI log
    assert result.returncode == 0, output[-6000:]
    assert "Traceback" not in log, log[-4000:]
    summary = json.loads(report.read_text())
    assert summary, "Schemathesis wrote no report"
