"""Checks what charts/chartmuseum renders for monitoring and for namespace users:
ServiceMonitors (and the operator's metrics Service) for each serve layout,
ChartMuseum's ENABLE_METRICS, the PrometheusRule's jobs and runbook links, the
Grafana dashboard ConfigMap (valid JSON; every metric a query reads is one cmop
exports, listed in the metrics docs), the ClusterRoles aggregated to edit and
view, and helm lint --strict with all of it on.
Usage: check_monitoring.py HELM CHART_DIR"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chartlib import container, env_of, lint_strict, objects, one, render, run_main  # noqa: E402

HELM, CHART = sys.argv[1], sys.argv[2]
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPERATOR = ["operator.enabled=true"]
DEPLOYMENT = OPERATOR + ["operator.serve.mode=deployment"]
ALL = ["serviceMonitor.enabled=true", "prometheusRule.enabled=true", "grafanaDashboard.enabled=true"]


def exported_metrics():
    """Every cmop_* family the sources declare (HELP/TYPE names), the set the
    dashboard and the alerts may read."""
    names = set()
    for folder in ("src/serve", "src/operate", "src/httpd"):
        for root, _, files in os.walk(os.path.join(SOURCE, folder)):
            for f in files:
                if f.endswith((".cpp", ".hpp")):
                    text = open(os.path.join(root, f), encoding="utf-8").read()
                    names.update(re.findall(r'"(cmop_[a-z_]+)"', text))
    return names


def metric_names(expr):
    """The metric families an expression reads (a histogram's _bucket, _sum and
    _count series belong to their family)."""
    return {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"\b(cmop_[a-z_]+)\b", expr)}


def check_service_monitors(ck):
    ck.section("ServiceMonitors")
    ck.check(not objects(render(HELM, CHART, OPERATOR), "ServiceMonitor"), "none by default")
    docs = render(HELM, CHART, OPERATOR + ["serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom",
                                           "serviceMonitor.interval=15s"])
    server = one(docs, "ServiceMonitor", "cmop-chartmuseum")
    ports = [e["port"] for e in server["spec"]["endpoints"]]
    ck.check(ports == ["http", "cmop"], "sidecar layout: ChartMuseum's http and the sidecar's cmop port", str(ports))
    ck.check(all(e["path"] == "/metrics" and e["interval"] == "15s" for e in server["spec"]["endpoints"]),
             "each endpoint scrapes /metrics at the interval")
    ck.check(server["metadata"]["labels"].get("release") == "prom", "labels for Prometheus' selector")
    service = one(docs, "Service", "cmop-chartmuseum")
    ck.check({p["name"] for p in service["spec"]["ports"]} >= {"http", "cmop"}, "the scraped ports exist on the Service")
    ck.check(server["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items(),
             "the ServiceMonitor selects that Service")
    op = one(docs, "ServiceMonitor", "cmop-chartmuseum-operator")
    op_svc = one(docs, "Service", "cmop-chartmuseum-operator")
    ck.check(op["spec"]["selector"]["matchLabels"].items() <= op_svc["metadata"]["labels"].items(),
             "the operator's ServiceMonitor selects the operator's metrics Service")
    op_pod = one(docs, "Deployment", "cmop-chartmuseum-operator")["spec"]["template"]
    ck.check(op_svc["spec"]["selector"].items() <= op_pod["metadata"]["labels"].items(),
             "the metrics Service selects the operator pods")
    ck.check(any(p["name"] == op_svc["spec"]["ports"][0]["targetPort"]
                 for p in container(one(docs, "Deployment", "cmop-chartmuseum-operator"), "operator")["ports"]),
             "its targetPort is a port of the operator container")
    cm = container(one(docs, "Deployment", "cmop-chartmuseum"), "chartmuseum")
    ck.check(env_of(cm)["ENABLE_METRICS"]["value"] == "true", "scraped ChartMuseum gets ENABLE_METRICS=true")
    ck.check("DISABLE_METRICS" not in env_of(cm), "the deprecated DISABLE_METRICS is not set")
    plain = container(one(render(HELM, CHART, OPERATOR), "Deployment", "cmop-chartmuseum"), "chartmuseum")
    ck.check(env_of(plain)["ENABLE_METRICS"]["value"] == "false", "unscraped, ChartMuseum's metrics stay off")

    docs = render(HELM, CHART, DEPLOYMENT + ["serviceMonitor.enabled=true", "serviceMonitor.namespace=monitoring"])
    serve = one(docs, "ServiceMonitor", "cmop-chartmuseum-serve")
    ck.check([e["port"] for e in serve["spec"]["endpoints"]] == ["cmop"], "deployment layout: the serve Service's cmop")
    ck.check(serve["metadata"]["namespace"] == "monitoring" and
             serve["spec"]["namespaceSelector"]["matchNames"] == ["cmop"],
             "a ServiceMonitor in another namespace still selects the release's Services")
    ck.check([e["port"] for e in one(docs, "ServiceMonitor", "cmop-chartmuseum")["spec"]["endpoints"]] == ["http"],
             "ChartMuseum alone behind its own ServiceMonitor")


def check_rules(ck):
    ck.section("PrometheusRule")
    for sets, serve_job in ((OPERATOR, "cmop-chartmuseum"), (DEPLOYMENT, "cmop-chartmuseum-serve")):
        rule = one(render(HELM, CHART, sets + ["prometheusRule.enabled=true"]), "PrometheusRule")
        rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
        names = [r["alert"] for r in rules]
        ck.check(len(names) == 8 and len(set(names)) == 8, "eight alerts", str(names))
        for r in rules:
            jobs = set(re.findall(r'job="([^"]+)"', r["expr"]))
            ck.check(jobs <= {serve_job, "cmop-chartmuseum-operator"}, "%s reads jobs %s" % (r["alert"], sorted(jobs)))
            for key in ("summary", "description", "runbook_url"):
                ck.check(r["annotations"].get(key), "%s has a %s" % (r["alert"], key))
            ck.check(r["annotations"]["runbook_url"].endswith("#" + r["alert"].lower()),
                     "%s links its runbook section" % r["alert"])
    ops = open(os.path.join(SOURCE, "docs", "operations.md"), encoding="utf-8").read()
    for name in names:
        ck.check(re.search(r"^### %s$" % name, ops, re.M), "docs/operations.md has a section for %s" % name)
    exported = exported_metrics()
    for r in rules:
        for m in metric_names(r["expr"]):
            ck.check(m in exported, "%s reads %s, a metric cmop exports" % (r["alert"], m))
    no_op = one(render(HELM, CHART, ["prometheusRule.enabled=true"]), "PrometheusRule")
    ck.check([g["name"] for g in no_op["spec"]["groups"]] == ["cmop.serve"], "without the operator, no operator alerts")


def check_dashboard(ck):
    ck.section("Grafana dashboard")
    docs = render(HELM, CHART, ["grafanaDashboard.enabled=true", "grafanaDashboard.folder=Platform"])
    cm = one(docs, "ConfigMap", "cmop-chartmuseum-dashboard")
    ck.check(cm["metadata"]["labels"].get("grafana_dashboard") == "1", "labelled for Grafana's sidecar")
    ck.check(cm["metadata"]["annotations"] == {"grafana_folder": "Platform"}, "folder annotation")
    dash = json.loads(cm["data"]["cmop.json"])
    ck.check(dash["uid"] == "cmop-overview" and dash["panels"], "valid dashboard JSON with panels")
    exported = exported_metrics()
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    ck.check(len(exprs) >= 15, "queries for every row", str(len(exprs)))
    for e in exprs:
        for m in metric_names(e):
            ck.check(m in exported, "the dashboard reads %s, a metric cmop exports" % m)
    ops = open(os.path.join(SOURCE, "docs", "operations.md"), encoding="utf-8").read()
    for p in dash["panels"]:
        if p["type"] != "row":
            ck.check(p["title"] in ops, "docs/operations.md explains the panel %r" % p["title"])


def check_aggregated_roles(ck):
    ck.section("ClusterRoles for namespace users")
    docs = render(HELM, CHART, OPERATOR)
    edit = one(docs, "ClusterRole", "cmop-chartmuseum-operator-edit")
    view = one(docs, "ClusterRole", "cmop-chartmuseum-operator-view")
    ck.check(edit["metadata"]["labels"].get("rbac.authorization.k8s.io/aggregate-to-edit") == "true",
             "edit aggregates into the built-in edit role")
    ck.check(view["metadata"]["labels"].get("rbac.authorization.k8s.io/aggregate-to-view") == "true",
             "view aggregates into the built-in view role")
    ck.check("create" in edit["rules"][0]["verbs"] and edit["rules"][0]["resources"] == ["chartmuseums"],
             "edit may create chartmuseums, not their status")
    ck.check(set(view["rules"][0]["verbs"]) == {"get", "list", "watch"}, "view only reads")
    off = render(HELM, CHART, OPERATOR + ["operator.rbac.aggregateToDefaultRoles=false"])
    ck.check(not [d for d in objects(off, "ClusterRole") if d["metadata"]["name"].endswith(("-edit", "-view"))],
             "operator.rbac.aggregateToDefaultRoles=false leaves them out")
    scoped = render(HELM, CHART, OPERATOR + ["operator.watchNamespace=team"])
    ck.check(not objects(scoped, "ClusterRole"), "operator.watchNamespace renders no ClusterRole, aggregated or not")
    crd = one(docs, "CustomResourceDefinition")
    ck.check(crd["spec"]["names"].get("shortNames") == ["chm"] and crd["spec"]["names"].get("categories") == ["cmop"],
             "the CRD has a short name and its own category (not all)")


def check_lint(ck):
    ck.section("helm lint --strict")
    for sets in (OPERATOR + ALL, DEPLOYMENT + ALL, ALL):
        ok, out = lint_strict(HELM, CHART, sets)
        ck.check(ok, "lint --strict with %s" % " ".join(sets), out)
    for bad in ("serviceMonitor.interval=soon", "prometheusRule.staleSchedules=0", "prometheusRule.runbookBaseURL=docs"):
        out = render(HELM, CHART, [bad], expect_failure=True)
        ck.check("values don't meet the specifications" in out, "refused by the schema: " + bad, out)


def main(ck):
    check_service_monitors(ck)
    check_rules(ck)
    check_dashboard(ck)
    check_aggregated_roles(ck)
    check_lint(ck)


if __name__ == "__main__":
    run_main(main, HELM)
