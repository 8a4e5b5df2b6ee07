// Prometheus text metrics of the web gateway (docs/web.md, "Metrics").
// Single-threaded (Node's event loop): no locking.

import { logRotations } from "./log.js";

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function esc(v) {
  return String(v).replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n");
}

export class Metrics {
  constructor() {
    this.calls = new Map();      // `${method}\0${code}` -> count
    this.latency = new Map();    // method -> {buckets[], sum, count, upstreamSum}
    this.http = new Map();       // kind -> count
    this.refusals = new Map();   // reason -> count
    this.gauges = [];            // [name, help, () => value]
    this.started = Date.now() / 1000;
  }

  // One bridged call: total seconds in the gateway and seconds waiting for the service.
  observe(method, code, seconds, upstreamSeconds) {
    const key = `${method}\0${code}`;
    this.calls.set(key, (this.calls.get(key) || 0) + 1);
    let h = this.latency.get(method);
    if (!h) {
      h = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0, upstreamSum: 0 };
      this.latency.set(method, h);
    }
    BUCKETS.forEach((b, i) => { if (seconds <= b) h.buckets[i]++; });
    h.sum += seconds;
    h.upstreamSum += upstreamSeconds;
    h.count++;
  }

  httpRequest(kind) {
    this.http.set(kind, (this.http.get(kind) || 0) + 1);
  }

  // A connection or request refused by a limit (limits.js): max_connections,
  // client_connections, request_timeout, request_bytes, inactivity_timeout.
  refused(reason) {
    this.refusals.set(reason, (this.refusals.get(reason) || 0) + 1);
  }

  // A gauge read when /metrics is rendered.
  gauge(name, help, read) {
    this.gauges.push([name, help, read]);
  }

  render() {
    const out = [];
    out.push("# HELP lifelong_web_rpc_total Calls bridged by the web gateway, by method and gRPC code.");
    out.push("# TYPE lifelong_web_rpc_total counter");
    for (const [key, n] of this.calls) {
      const [method, code] = key.split("\0");
      out.push(`lifelong_web_rpc_total{method="${esc(method)}",code="${esc(code)}"} ${n}`);
    }
    out.push("# HELP lifelong_web_rpc_seconds Time from the browser's request to the gateway's answer.");
    out.push("# TYPE lifelong_web_rpc_seconds histogram");
    for (const [method, h] of this.latency) {
      BUCKETS.forEach((b, i) => out.push(`lifelong_web_rpc_seconds_bucket{method="${esc(method)}",le="${b}"} ${h.buckets[i]}`));
      out.push(`lifelong_web_rpc_seconds_bucket{method="${esc(method)}",le="+Inf"} ${h.count}`);
      out.push(`lifelong_web_rpc_seconds_sum{method="${esc(method)}"} ${h.sum}`);
      out.push(`lifelong_web_rpc_seconds_count{method="${esc(method)}"} ${h.count}`);
    }
    out.push("# HELP lifelong_web_upstream_seconds_sum Time spent waiting for the gRPC service, summed per method.");
    out.push("# TYPE lifelong_web_upstream_seconds_sum counter");
    for (const [method, h] of this.latency) {
      out.push(`lifelong_web_upstream_seconds_sum{method="${esc(method)}"} ${h.upstreamSum}`);
    }
    out.push("# HELP lifelong_web_http_requests_total HTTP requests by kind (api, static, bad_request: a target that is not a URL, error: a handler failed).");
    out.push("# TYPE lifelong_web_http_requests_total counter");
    for (const [kind, n] of this.http) out.push(`lifelong_web_http_requests_total{kind="${kind}"} ${n}`);
    out.push("# HELP lifelong_web_refused_total Connections and requests refused by the gateway's limits, by reason " +
             "(max_connections, client_connections: over the per-address cap, request_timeout: headers or body " +
             "too slow, request_bytes: over the held request-body budget, inactivity_timeout: a connection that moved no " +
             "byte for --inactivity_timeout_ms, e.g. a client that stopped reading its answer).");
    out.push("# TYPE lifelong_web_refused_total counter");
    for (const [reason, n] of this.refusals) out.push(`lifelong_web_refused_total{reason="${esc(reason)}"} ${n}`);
    for (const [name, help, read] of this.gauges) {
      out.push(`# HELP ${name} ${help}`);
      out.push(`# TYPE ${name} gauge`);
      out.push(`${name} ${read()}`);
    }
    out.push("# HELP lifelong_web_log_rotations_total Times the log file was rotated (--log_rotate_mb; log.js).");
    out.push("# TYPE lifelong_web_log_rotations_total counter");
    out.push(`lifelong_web_log_rotations_total ${logRotations()}`);
    out.push("# TYPE lifelong_web_start_time_seconds gauge");
    out.push(`lifelong_web_start_time_seconds ${this.started}`);
    return out.join("\n") + "\n";
  }
}
