// web_gateway: flags and wiring only (gateway.js does the work).
//
//   node gateway/main.js --port=8090 --records=127.0.0.1:7001 --catalog=127.0.0.1:7002 \
//       --recommend=127.0.0.1:7003 [--kiosk_token_dir=var/auth/kiosks]  (<venue>.token files,
//                                                 read again when replaced: kiosk_tokens.js)
//       [--kiosk_clients=VENUE=ADDR[/PREFIX],...] (each kiosk's address or network bound to its venue;
//                                                 default none: no client is a kiosk)
//       [--kiosk_hosts=localhost,127.0.0.1,::1] (the names kiosks call the gateway by)
//       [--tls_ca=F --tls_cert=F --tls_key=F] [--font_dir=/usr/share/fonts/opentype/noto]
//       [--upstream_timeout_ms=10000] [--port_file=F] [--host=127.0.0.1]
//       [--https_cert=F --https_key=F]   (serve the browser over HTTPS; both or neither)
//       [--proxy_protocol_from=127.0.0.1] (behind a TCP balancer: only its connections, each with a
//                                          PROXY v1 header naming the client; proxy_protocol.js)
//       [--metrics_port=N]  (also GET /metrics and /healthz, plain HTTP on 127.0.0.1:N: for
//                            Prometheus, which reaches each gateway behind a balancer this way)
//       [--max_connections=8192] [--max_connections_per_client=256] [--request_timeout_ms=30000]
//       [--headers_timeout_ms=10000] [--inactivity_timeout_ms=60000] [--max_held_request_bytes=268435456]
//       [--max_held_request_bytes_per_client=67108864] [--small_request_bytes_reserve=33554432]
//                                       (limits.js; the reserve: the part of --max_held_request_bytes,
//                                        less than it, that bodies over 64 KiB may not use; not
//                                        given: 32 MiB, or an eighth of a lower total)
//       [--log_rotate_mb=256 --log_keep=4]  (stdout a file: rotated past that size, keeping that
//                                            many older files; 0: never; log.js)
//
// Exit status: 0 after SIGTERM/SIGINT (connections drained), 2 for a bad flag,
// 1 when the port cannot be bound or a configured file cannot be read.

import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import { createGateway } from "./gateway.js";
import { KioskTokenDir } from "./kiosk_tokens.js";
import { DEFAULT_LIMITS, defaultSmallReserve } from "./limits.js";
import { configureLogRotation, log } from "./log.js";
import { hostName, parseKioskClients } from "./policy.js";

const DEFAULTS = {
  host: "127.0.0.1", port: "8090", records: "127.0.0.1:7001", catalog: "127.0.0.1:7002",
  recommend: "127.0.0.1:7003", kiosk_token_dir: "", kiosk_clients: "", kiosk_hosts: "localhost,127.0.0.1,::1",
  tls_ca: "", tls_cert: "", tls_key: "", font_dir: "/usr/share/fonts/opentype/noto",
  upstream_timeout_ms: "10000", port_file: "", https_cert: "", https_key: "", proxy_protocol_from: "",
  metrics_port: "", log_rotate_mb: "256", log_keep: "4",
  max_connections: String(DEFAULT_LIMITS.maxConnections),
  max_connections_per_client: String(DEFAULT_LIMITS.maxConnectionsPerClient),
  request_timeout_ms: String(DEFAULT_LIMITS.requestTimeoutMs),
  headers_timeout_ms: String(DEFAULT_LIMITS.headersTimeoutMs),
  inactivity_timeout_ms: String(DEFAULT_LIMITS.inactivityTimeoutMs),
  max_held_request_bytes: String(DEFAULT_LIMITS.maxHeldRequestBytes),
  max_held_request_bytes_per_client: String(DEFAULT_LIMITS.maxHeldRequestBytesPerClient),
  small_request_bytes_reserve: String(DEFAULT_LIMITS.smallRequestBytesReserve),
};
// The limits' flags (limits.js), each a positive integer.
const LIMIT_FLAGS = {
  max_connections: "maxConnections", max_connections_per_client: "maxConnectionsPerClient",
  request_timeout_ms: "requestTimeoutMs", headers_timeout_ms: "headersTimeoutMs",
  inactivity_timeout_ms: "inactivityTimeoutMs",
  max_held_request_bytes: "maxHeldRequestBytes", max_held_request_bytes_per_client: "maxHeldRequestBytesPerClient",
  small_request_bytes_reserve: "smallRequestBytesReserve",
};

function fail(code, msg) {
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), level: "error", event: "start", error: msg }) + "\n");
  process.exit(code);
}

function parseFlags(argv) {
  const flags = { ...DEFAULTS };
  for (const arg of argv) {
    const m = /^--([a-z_]+)=(.*)$/s.exec(arg);
    if (!m || !(m[1] in DEFAULTS)) fail(2, `unknown or malformed flag: ${arg} (flags: ${Object.keys(DEFAULTS).join(", ")})`);
    flags[m[1]] = m[2];
  }
  for (const f of ["port", "upstream_timeout_ms", ...(flags.metrics_port ? ["metrics_port"] : [])]) {
    if (!/^\d+$/.test(flags[f])) fail(2, `--${f}: must be a non-negative integer, got "${flags[f]}"`);
  }
  if (+flags.port > 65535) fail(2, "--port: must be in [0, 65535]");
  for (const f of Object.keys(LIMIT_FLAGS)) {
    if (!/^[1-9]\d{0,14}$/.test(flags[f])) fail(2, `--${f}: must be a positive integer, got "${flags[f]}"`);
  }
  // Not given: the default, or an eighth of a lower total (defaultSmallReserve).
  if (!argv.some((a) => a.startsWith("--small_request_bytes_reserve="))) {
    flags.small_request_bytes_reserve = String(defaultSmallReserve(+flags.max_held_request_bytes));
  }
  if (+flags.small_request_bytes_reserve >= +flags.max_held_request_bytes) {
    fail(2, "--small_request_bytes_reserve: must be less than --max_held_request_bytes (it is the part of it kept " +
            "for small bodies; lower it too when lowering the total)");
  }
  if (!/^\d{1,7}$/.test(flags.log_rotate_mb)) fail(2, `--log_rotate_mb: must be a non-negative integer, got "${flags.log_rotate_mb}"`);
  if (!/^\d{1,3}$/.test(flags.log_keep) || +flags.log_keep < 1 || +flags.log_keep > 100) {
    fail(2, `--log_keep: must be an integer in [1, 100], got "${flags.log_keep}"`);
  }
  if (+flags.headers_timeout_ms > +flags.request_timeout_ms) {
    fail(2, "--headers_timeout_ms: must not exceed --request_timeout_ms (the request includes its headers)");
  }
  try {
    flags.kioskClients = parseKioskClients(flags.kiosk_clients);
  } catch (err) {
    fail(2, `--kiosk_clients: ${err.message}`);
  }
  for (const f of ["records", "catalog", "recommend"]) {
    if (!/^[A-Za-z0-9.\-_[\]:]+:\d+$/.test(flags[f])) fail(2, `--${f}: must be host:port, got "${flags[f]}"`);
  }
  if (!flags.https_cert !== !flags.https_key) fail(2, "--https_cert and --https_key: give both or neither");
  for (const a of flags.proxy_protocol_from.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (!net.isIP(a)) fail(2, `--proxy_protocol_from: "${a}" is not an IP address`);
  }
  return flags;
}

// Kiosk tokens: one file per venue, <venue id>.token (minted by ops/web.sh with
// role kiosk and that venue), followed: a file re-minted while the gateway runs
// is read again within 2 s (kiosk_tokens.js).
function loadKioskTokens(dir) {
  if (!dir) return new Map();
  try {
    return new KioskTokenDir(dir);
  } catch (err) {
    fail(1, `--kiosk_token_dir: cannot read ${dir}: ${err.message}`);
  }
}

function readPem(flag, file) {
  if (!file) return undefined;
  try {
    return fs.readFileSync(file);
  } catch (err) {
    fail(1, `--${flag}: cannot read ${file}: ${err.message}`);
  }
}

const flags = parseFlags(process.argv.slice(2));
configureLogRotation({ rotateBytes: +flags.log_rotate_mb * 1024 * 1024, keep: +flags.log_keep });
const tls = flags.tls_ca || flags.tls_cert
  ? { ca: readPem("tls_ca", flags.tls_ca), cert: readPem("tls_cert", flags.tls_cert), key: readPem("tls_key", flags.tls_key) }
  : null;
const kioskTokens = loadKioskTokens(flags.kiosk_token_dir);
const gw = createGateway({
  backends: { records: flags.records, catalog: flags.catalog, recommend: flags.recommend },
  tls,
  kioskTokens,
  kioskClients: flags.kioskClients,
  kioskHosts: new Set(flags.kiosk_hosts.split(",").map((s) => hostName(s)).filter(Boolean)),
  proxyProtocolFrom: new Set(flags.proxy_protocol_from.split(",").map((s) => s.trim()).filter(Boolean)),
  upstreamTimeoutMs: +flags.upstream_timeout_ms,
  fontDir: flags.font_dir && fs.existsSync(flags.font_dir) ? flags.font_dir : "",
  https: flags.https_cert
    ? { cert: readPem("https_cert", flags.https_cert), key: readPem("https_key", flags.https_key) } : null,
  limits: Object.fromEntries(Object.entries(LIMIT_FLAGS).map(([f, k]) => [k, +flags[f]])),
});

gw.listener.on("error", (err) => fail(1, `listen ${flags.host}:${flags.port}: ${err.message}`));
gw.listener.listen(+flags.port, flags.host, () => {
  const port = gw.listener.address().port;
  if (flags.port_file) fs.writeFileSync(flags.port_file, `${port}\n`);
  log({
    level: "info", event: "serving", host: flags.host, port,
    backends: { records: flags.records, catalog: flags.catalog, recommend: flags.recommend },
    tls: tls ? "tls" : "off", scheme: flags.https_cert ? "https" : "http", kiosks: [...kioskTokens.keys()],
    kiosk_clients: flags.kioskClients.bindings.length,
    proxy_protocol_from: flags.proxy_protocol_from || "off",
  });
  // A venue with a kiosk token but no kiosk address bound to it: no kiosk can act for it.
  const unbound = [...kioskTokens.keys()].filter((v) => !flags.kioskClients.venues.includes(v));
  if (unbound.length > 0) {
    log({
      level: "warn", event: "kiosk_venues_without_clients", venues: unbound,
      hint: "--kiosk_clients binds no address to these venues: no kiosk can act for them",
    });
  }
});

// The operational port: /metrics and /healthz only, answered by the gateway's own handler.
let metricsServer = null;
if (flags.metrics_port) {
  metricsServer = http.createServer((req, res) => {
    const p = String(req.url).split("?")[0];
    if (req.method === "GET" && (p === "/metrics" || p === "/healthz")) return gw.server.emit("request", req, res);
    res.writeHead(404, { "content-type": "text/plain" }).end("not found: /metrics and /healthz only\n");
  });
  metricsServer.on("error", (err) => fail(1, `listen 127.0.0.1:${flags.metrics_port}: ${err.message}`));
  metricsServer.listen(+flags.metrics_port, "127.0.0.1");
}

let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log({ level: "info", event: "stopping", signal: sig });
    // Requests in progress get up to 5 s to finish; then whatever is left is cut.
    const timer = setTimeout(() => process.exit(0), 5000);
    timer.unref();
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    gw.drain().then(() => process.exit(0));
  });
}
