"""Issue 16: the Grafana dashboard in deploy/ only charts metrics the cloud exports."""

import json
import re
from pathlib import Path

from cloud.metrics import REGISTRY

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dolbom-cloud.json"
STORE_METRICS = {"dolbom_alerts_open", "dolbom_robots_online"}  # read from the store at scrape


def exported() -> set[str]:
    names = set(STORE_METRICS)
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            names.add(sample.name)
        names.add(metric.name)
        if metric.type == "counter":
            names.add(metric.name + "_total")
        if metric.type == "histogram":
            names |= {metric.name + s for s in ("_bucket", "_sum", "_count")}
    return names


def test_every_panel_queries_an_exported_metric() -> None:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert doc["uid"] == "dolbom-cloud"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    known = exported()
    for panel in doc["panels"]:
        for target in panel["targets"]:
            used = set(re.findall(r"\bdolbom_[a-z_]+", target["expr"]))
            assert used, panel["title"]
            assert used <= known, (panel["title"], used - known)
