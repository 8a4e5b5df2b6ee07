"""Writes lifelong.json, the Grafana dashboard of the lifelong services.

Edit the panels here and run `python3 ops/grafana/make_dashboard.py`; the JSON
is committed so Grafana can import it directly (Dashboards > Import).
"""
import json
import os

DS = {"type": "prometheus", "uid": "${datasource}"}
RPC = 'job=~"$job",method!~"Check|Watch|ServerReflectionInfo"'
panels = []
pid = [0]

def panel(title, targets, x, y, w=12, h=8, unit="short", kind="timeseries", desc=""):
    pid[0] += 1
    p = {
        "id": pid[0], "type": kind, "title": title, "description": desc, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [dict(refId=chr(65 + i), datasource=DS, expr=e, legendFormat=l)
                    for i, (e, l) in enumerate(targets)],
    }
    if kind == "timeseries":
        p["options"] = {"legend": {"displayMode": "table", "placement": "right",
                                   "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi"}}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area"}
    panels.append(p)

def row(title, y):
    pid[0] += 1
    panels.append({"id": pid[0], "type": "row", "title": title, "collapsed": False,
                   "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})

row("Requests", 0)
panel("Request rate by method and code",
      [(f'sum by (job, method, code) (rate(lifelong_grpc_requests_total{{{RPC}}}[$__rate_interval]))',
        "{{job}} {{method}} {{code}}")], 0, 1, unit="reqps",
      desc="Calls finished per second (health checks and reflection left out).")
panel("Error ratio (code != OK)",
      [(f'sum by (job) (rate(lifelong_grpc_requests_total{{{RPC},code!="OK"}}[$__rate_interval])) / '
        f'sum by (job) (rate(lifelong_grpc_requests_total{{{RPC}}}[$__rate_interval]))', "{{job}}")],
      12, 1, unit="percentunit",
      desc="NOT_FOUND and INVALID_ARGUMENT count here too: read together with the panel on the left.")
panel("p50 latency by method",
      [(f'histogram_quantile(0.5, sum by (le, job, method) '
        f'(rate(lifelong_grpc_request_duration_seconds_bucket{{{RPC}}}[$__rate_interval])))',
        "{{job}} {{method}}")], 0, 9, unit="s")
panel("p99 latency by method",
      [(f'histogram_quantile(0.99, sum by (le, job, method) '
        f'(rate(lifelong_grpc_request_duration_seconds_bucket{{{RPC}}}[$__rate_interval])))',
        "{{job}} {{method}}")], 12, 9, unit="s",
      desc="Bucket bounds: 0.5 ms .. 10 s; values between bounds are interpolated.")
panel("In-flight calls",
      [(f'sum by (job, method) (lifelong_grpc_requests_in_flight{{{RPC}}})', "{{job}} {{method}}")],
      0, 17, unit="short")
panel("Targets up",
      [('up{job=~"$job"}', "{{job}} {{instance}}")], 12, 17, unit="short",
      desc="1 when Prometheus could scrape the target's /metrics.")

row("Stores", 25)
panel("Store sizes",
      [('lifelong_store_items{job=~"$job"}', "{{service}} {{kind}}")], 0, 26, unit="short",
      desc="records: RocksDB's estimate of stored statements; catalog: exact course counters.")
panel("Write and sync rate",
      [('sum by (service) (rate(lifelong_store_writes_total{job=~"$job"}[$__rate_interval]))',
        "{{service}} writes/s"),
       ('sum by (service) (rate(lifelong_store_syncs_total{job=~"$job"}[$__rate_interval]))',
        "{{service}} syncs/s"),
       ('sum by (service) (rate(lifelong_store_write_failures_total{job=~"$job"}[$__rate_interval]))',
        "{{service}} failed groups/s")], 12, 26, unit="ops",
      desc="records: statements written, WAL fsyncs (group commits) and write groups that failed (full disk, "
           "failed fsync: their callers got UNAVAILABLE); catalog: generation increments.")
panel("Statements per sync (group-commit size)",
      [('sum(rate(lifelong_store_writes_total{service="records"}[$__rate_interval])) / '
        'sum(rate(lifelong_store_syncs_total{service="records"}[$__rate_interval]))', "records")],
      0, 34, unit="short")
panel("Backup age (record store, catalog)",
      [('lifelong_backup_age_seconds{job=~"$job"} / 3600', "{{instance}} records age (hours)"),
       ('sum by (instance) (increase(lifelong_backups_total{job=~"$job",outcome="error"}[1h]))',
        "{{instance}} failed records backups (last hour)"),
       ('lifelong_catalog_backup_age_seconds{job=~"$job"} / 3600', "{{instance}} catalog age (hours)"),
       ('sum by (instance) (increase(lifelong_catalog_backups_total{job=~"$job",outcome="error"}[1h]))',
        "{{instance}} failed catalog backups (last hour)")],
      12, 34, unit="short",
      desc="Hours since the newest backup started (the stack backs up every 6 h: above 6 the schedule "
           "is late or failing) and failed backups; docs/records.md and docs/catalog.md \"Backups\".")

row("Recommender model", 42)
panel("Model version", [('lifelong_recommend_model_version', "version")], 0, 43, w=6, h=6,
      unit="none", kind="stat")
panel("Model age", [('lifelong_recommend_model_age_seconds', "age")], 6, 43, w=6, h=6,
      unit="s", kind="stat", desc="Time since the serving model was loaded.")
panel("Index items", [('lifelong_recommend_index_items', "items")], 12, 43, w=6, h=6,
      unit="short", kind="stat")
panel("Cached catalog courses",
      [('lifelong_store_items{service="recommend",kind="cached_courses"}', "courses")],
      18, 43, w=6, h=6, unit="short", kind="stat")
panel("Model version and age over time",
      [('lifelong_recommend_model_version', "version"),
       ('lifelong_recommend_model_age_seconds / 3600', "since loaded (hours)"),
       ('(time() - lifelong_recommend_model_written_timestamp_seconds) / 3600', "since trained (hours)")],
      0, 49, unit="short",
      desc="Since trained: the scheduled retraining keeps it under 24 h (alert LifelongModelStale at 49 h; "
           "docs/recommend.md \"Scheduled retraining\").")
panel("Index searches",
      [('sum by (path) (rate(lifelong_recommend_search_queries_total[$__rate_interval]))',
        "queries {{path}}"),
       ('rate(lifelong_recommend_search_batches_total[$__rate_interval])', "FAISS batches")],
      12, 49, unit="ops", desc="Batched queries per FAISS call = queries{batched} / batches.")

row("Replication (ops/cluster.sh; docs/replication.md)", 57)
panel("Applied log position by node",
      [('lifelong_replication_applied_seq', "{{instance}}")], 0, 58, unit="short",
      desc="The last statement-log sequence each node applied to its store (it grows with every write).")
panel("Replication lag by node",
      [('lifelong_replication_lag', "{{instance}}")], 12, 58, unit="short",
      desc="Log operations a node has yet to apply; a follower read is at most this stale.")
panel("Leader", [('lifelong_replication_leader == 1', "{{instance}}")], 0, 66, w=6, h=6,
      unit="short", kind="stat", desc="The node that holds the lease and takes writes.")
panel("Leader changes",
      [('sum(increase(lifelong_replication_leader_changes_total[1h]))', "last hour")], 6, 66, w=6, h=6,
      unit="short", kind="stat")
panel("Leader changes over time",
      [('sum by (instance) (increase(lifelong_replication_leader_changes_total[$__rate_interval]))',
        "{{instance}}")], 12, 66, unit="short")
panel("Catalog log position by node",
      [('lifelong_catalog_log_applied_seq', "{{instance}}")], 0, 72, unit="short",
      desc="The last catalog-log entry each catalog node applied (docs/catalog.md \"Replication\").")
panel("Catalog nodes behind or stopped",
      [('lifelong_catalog_log_lag', "lag {{instance}}"),
       ('lifelong_catalog_log_stopped', "stopped {{instance}}")], 12, 72, unit="short",
      desc="Entries a catalog node has yet to apply, and 1 for a node that stopped applying "
           "(alerts LifelongCatalogNodeLagging, LifelongCatalogNodeStopped).")
panel("Log subscriptions made again",
      [('sum by (instance) (increase(lifelong_replication_consumer_restarts_total[$__rate_interval]))',
        "records {{instance}}"),
       ('sum by (instance) (increase(lifelong_catalog_log_consumer_restarts_total[$__rate_interval]))',
        "catalog {{instance}}")], 0, 80, unit="short",
      desc="A node's applier dropped a subscription that delivered nothing for 5 s while the log held "
           "what it had not applied, and subscribed again (docs/replication.md \"Catch-up\"). Now and then "
           "after a NATS server restart is expected; a steady rate is not (NATS logs).")

dashboard = {
    "__inputs": [],
    "title": "Lifelong learning services",
    "uid": "lifelong-services",
    "tags": ["lifelong"],
    "timezone": "browser",
    "schemaVersion": 38,
    "version": 1,
    "editable": True,
    "refresh": "30s",
    "time": {"from": "now-3h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
         "current": {}, "hide": 0},
        {"name": "job", "type": "query", "datasource": DS, "label": "Service",
         "query": {"query": 'label_values(up{job=~"lifelong-.*"}, job)', "refId": "jobs"},
         "definition": 'label_values(up{job=~"lifelong-.*"}, job)',
         "multi": True, "includeAll": True, "allValue": "lifelong-.*",
         "current": {"text": "All", "value": "$__all"}, "refresh": 2, "hide": 0},
    ]},
    "annotations": {"list": []},
    "panels": panels,
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "lifelong.json"), "w") as f:
    json.dump(dashboard, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(len(panels), "panels")
