"""deploy/prometheus and deploy/grafana: the rules load in the real promtool, their unit tests pass, and every metric
the rules and the dashboard name is one /metrics exposes (a renamed metric would otherwise leave an alert silent)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.factories import batch, body

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES = DEPLOY / "prometheus" / "delivrd-alerts.yml"
RULES_TEST = DEPLOY / "prometheus" / "delivrd-alerts.test.yml"
DASHBOARD = DEPLOY / "grafana" / "delivrd-dashboard.json"
METRIC = re.compile(r"\bdelivrd_[a-z0-9_]+")


def need_promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have promtool (.ci/run installs the Debian package prometheus)")
        pytest.skip("promtool not installed (apt-get install -y prometheus)")
    return found


def test_alert_rules_pass_promtool_check_and_their_unit_tests():
    promtool = need_promtool()
    for command in (["check", "rules", RULES.name], ["test", "rules", RULES_TEST.name]):
        done = subprocess.run([promtool, *command], cwd=RULES.parent, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    queries += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return queries


def test_every_metric_the_rules_and_the_dashboard_name_is_exposed(http_client):
    # one of each answer the rules name a metric for: an ack, and a refusal
    assert http_client.post("/sms/callback", content=body(batch(0, 3))).json()["result"] == 0
    assert http_client.post("/sms/callback", content=b"{").json()["result"] == 1001
    # and an endpoint, which has its own series (nothing listens there: it only has to exist)
    assert http_client.post("/v1/endpoints", json={"url": "http://127.0.0.1:9/x"}).status_code == 201
    text = http_client.get("/metrics").text
    exposed = {line.split("{")[0].split()[0] for line in text.splitlines() if line and not line.startswith("#")}
    named = {*METRIC.findall(RULES.read_text()), *(name for q in dashboard_queries() for name in METRIC.findall(q))}
    assert len(named) >= 10, named
    assert named <= exposed, f"named but not exposed by /metrics: {sorted(named - exposed)}"
    assert all(panel["targets"] for panel in json.loads(DASHBOARD.read_text())["panels"])
