// The web gateway: serves the kiosk and the app (static files under public/)
// and bridges browser calls to the district's gRPC services.
//
// Browsers speak the Connect protocol (JSON or binary over HTTP/1.1) or
// gRPC-Web to /api/<package.Service>/<Method>; @connectrpc/connect-node
// decodes them with code generated from proto/ (protoc-gen-es) and the gateway
// calls the C++ service over gRPC (HTTP/2) with @connectrpc/connect-node's
// gRPC transport. Only the methods in ROUTES are bridged; every other path
// under /api/ answers UNIMPLEMENTED (404) without reaching a service.
//
// Credentials: see policy.js. Every call gets a deadline (--upstream_timeout_ms)
// and a request id (x-request-id, forwarded), and is logged as one JSON line
// (no tokens, no request bodies) and counted in /metrics. Connections, slow
// clients and request-body bytes held are limited: see limits.js.
//
// createGateway(options) returns {server, close()}; main.js is flags and wiring.

import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient, createContextKey, createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { CourseCatalogService } from "../gen/proto/lifelong/v1/catalog_pb.js";
import { RecommendationService } from "../gen/proto/lifelong/v1/recommend_pb.js";
import { LearningRecordService } from "../gen/proto/lifelong/v1/records_pb.js";
import { checkKioskWrite, chooseCredential, normaliseAddress } from "./policy.js";
import { admittedByFront, clientAddress, proxyProtocolFront } from "./proxy_protocol.js";
import { Metrics } from "./metrics.js";
import {
  ByteBudget, ConnectionCounter, CountedRequest, DEFAULT_LIMITS, RETRY_AFTER_S, defaultSmallReserve, holdBody,
} from "./limits.js";
import { log } from "./log.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PUBLIC_DIR = path.join(HERE, "..", "public");

// The bridged methods: [service, backend, local method names]. Not bridged on
// purpose: writes to the catalog, model pinning, operators' and internal
// calls (ExportStatements, WatchLearnerChanges, ListAuditEvents, VoidStatement,
// Bind/Unbind/GetLearnerCard: cards are bound at the counter with the CLI).
export const ROUTES = [
  [CourseCatalogService, "catalog", ["getCourse", "batchGetCourses", "listCourses", "listProgrammes"]],
  [RecommendationService, "recommend", ["recommend", "similarCourses", "planPath"]],
  [LearningRecordService, "records",
    ["recordStatement", "listStatements", "getTranscript", "exportLearner", "eraseLearner",
     "createKioskPass", "redeemKioskPass", "redeemLearnerCard"]],
];

// The largest request message the gateway reads (bytes): the record service
// takes statements of at most 1 MiB (services/records/statement.h); over the
// limit, RESOURCE_EXHAUSTED before anything is parsed or forwarded.
export const MAX_REQUEST_BYTES = 4 << 20;

// The deadline of a bridged call to its service: --upstream_timeout_ms, but
// an erasure gets at least two minutes. EraseLearner answers once the
// learner's statements are gone from every read (their purge from the
// store's files runs in the background), but it waits for every write
// queued before it and then runs alone, and a learner who asked must not be
// told it failed while it completes (the app asks with the same two minutes).
export const ERASE_TIMEOUT_MS = 120_000;
export function upstreamTimeoutMs(methodLocalName, upstreamTimeout) {
  return methodLocalName === "eraseLearner" ? Math.max(upstreamTimeout, ERASE_TIMEOUT_MS) : upstreamTimeout;
}

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".json": "application/json", ".webmanifest": "application/manifest+json",
  ".svg": "image/svg+xml", ".png": "image/png", ".otf": "font/otf", ".ttf": "font/ttf",
  ".ttc": "font/collection", ".woff2": "font/woff2", ".txt": "text/plain; charset=utf-8",
};

// Set on every answer before it is routed (handler below), so that each
// answer, from any route, carries them; a route that needs another value of
// one (a different policy) sets it with setHeader or writeHead, which
// replaces it.
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
    "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function codeName(code) {
  return Code[code] === undefined ? String(code) : Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

// options: {backends: {records, catalog, recommend} ("host:port"),
//   tls: {ca, cert, key} (PEM strings) or null, kioskTokens: Map, or a
//   KioskTokenDir (kiosk_tokens.js: the files' current tokens),
//   kioskClients: KioskClients (policy.js parseKioskClients), kioskHosts: Set,
//   upstreamTimeoutMs, fontDir, publicDir,
//   limits: any of DEFAULT_LIMITS's fields (limits.js; the rest default;
//   a smallRequestBytesReserve not under maxHeldRequestBytes throws RangeError;
//   none: defaultSmallReserve(maxHeldRequestBytes)),
//   https: {cert, key} (PEM) or null: serve browsers over HTTPS instead of HTTP,
//   proxyProtocolFrom: Set of balancer addresses, or empty/absent: every
//   connection comes from one of them with a PROXY header naming the client
//   (proxy_protocol.js)}
// Returns {server, listener, metrics, drain, close}: listen on `listener`
// (the PROXY-protocol front when proxyProtocolFrom is set, else `server`).
export function createGateway(options) {
  const metrics = new Metrics();
  const limits = { ...DEFAULT_LIMITS, ...(options.limits || {}) };
  if (options.limits?.smallRequestBytesReserve === undefined) {
    limits.smallRequestBytesReserve = defaultSmallReserve(limits.maxHeldRequestBytes);
  }
  const connections = new ConnectionCounter(limits.maxConnectionsPerClient);
  const bodyBudget = new ByteBudget(limits.maxHeldRequestBytes, limits.maxHeldRequestBytesPerClient,
                                    limits.smallRequestBytesReserve);
  metrics.gauge("lifelong_web_request_bytes_held", "Request-body bytes read (or announced) and not yet answered.",
                () => bodyBudget.total);
  metrics.gauge("lifelong_web_request_bytes_held_large",
                "Of lifelong_web_request_bytes_held, those of bodies over 64 KiB (at most the total less " +
                "--small_request_bytes_reserve).",
                () => bodyBudget.large);
  const transports = {};
  const clients = new Map();  // service typeName -> client
  for (const [service, backend] of ROUTES) {
    const addr = options.backends[backend];
    if (!transports[backend]) {
      transports[backend] = createGrpcTransport({
        baseUrl: `${options.tls ? "https" : "http"}://${addr}`,
        nodeOptions: options.tls ? { ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key } : undefined,
        idleConnectionTimeoutMs: 60_000,
      });
    }
    clients.set(service.typeName, createClient(service, transports[backend]));
  }

  // One handler per bridged method: choose the credential, apply the gateway's
  // own checks, call the service with the caller's token and a deadline.
  // What a caller sees of a failed call. An error the service answered with
  // passes on as its code, message and details only: never its metadata (the
  // service's gRPC headers and trailers: content-type application/grpc,
  // grpc-status, ...), which connect-node would copy into the browser's
  // answer, over its own content type, so that a Connect client misread the
  // code from the HTTP status. The gateway forwards no header of a service's;
  // its own (the security headers: handler; cache-control: route) are on the
  // response already. A transport failure (no answer: refused connection, TLS
  // handshake, reset) carries Node's own message, with the services'
  // addresses and certificate names, so the caller gets its code and a fixed
  // message, and the access log (finish) keeps the detail.
  function publicError(err) {
    const ce = ConnectError.from(err);
    if (!(ce.cause instanceof Error) || ce.cause instanceof ConnectError) {
      return new ConnectError(ce.rawMessage, ce.code, undefined, ce.details);
    }
    const text = ce.code === Code.Unavailable ? "the service is unavailable; try again shortly"
      : ce.code === Code.DeadlineExceeded ? "the service did not answer in time" : "the call to the service failed";
    return new ConnectError(text, ce.code);
  }

  function bridge(service, method) {
    const client = clients.get(service.typeName);
    const name = `${service.typeName}/${method.name}`;
    const callOptions = (ctx, cred, rid) => {
      const headers = { "x-request-id": rid };
      if (cred.authorization) headers.authorization = cred.authorization;
      return { headers, signal: ctx.signal, timeoutMs: upstreamTimeoutMs(method.localName, options.upstreamTimeoutMs) };
    };
    const prepare = (req, ctx) => {
      const h = {};
      ctx.requestHeader.forEach((v, k) => { h[k] = v; });
      const rid = /^[A-Za-z0-9._-]{1,64}$/.test(h["x-request-id"] || "") ? h["x-request-id"] : crypto.randomUUID();
      const cred = chooseCredential(h, ctx.values.get(remoteKey), options);
      if (method.localName === "recordStatement") checkKioskWrite(cred.principal, req.statementJson);
      return { rid, cred };
    };
    const finish = (t0, upstreamMs, rid, cred, err) => {
      const code = err ? codeName(ConnectError.from(err).code) : "OK";
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      metrics.observe(name, code, ms / 1000, upstreamMs / 1000);
      log({ level: err ? "warn" : "info", event: "rpc", method: name, code, ms: +ms.toFixed(2),
            upstream_ms: +upstreamMs.toFixed(2), rid, principal: cred ? cred.principal.kind : "rejected",
            venue: cred && cred.principal.venue ? cred.principal.venue : undefined,
            error: err ? ConnectError.from(err).rawMessage : undefined });
    };
    if (method.methodKind === "server_streaming") {
      return async function* (req, ctx) {
        const t0 = process.hrtime.bigint();
        let rid, cred, upstreamMs = 0;
        try {
          ({ rid, cred } = prepare(req, ctx));
          const u0 = process.hrtime.bigint();
          for await (const msg of client[method.localName](req, callOptions(ctx, cred, rid))) yield msg;
          upstreamMs = Number(process.hrtime.bigint() - u0) / 1e6;
          finish(t0, upstreamMs, rid, cred, null);
        } catch (err) {
          finish(t0, upstreamMs, rid, cred, err);
          throw publicError(err);
        }
      };
    }
    return async (req, ctx) => {
      const t0 = process.hrtime.bigint();
      let rid, cred, upstreamMs = 0;
      try {
        ({ rid, cred } = prepare(req, ctx));
        const u0 = process.hrtime.bigint();
        try {
          const res = await client[method.localName](req, callOptions(ctx, cred, rid));
          upstreamMs = Number(process.hrtime.bigint() - u0) / 1e6;
          finish(t0, upstreamMs, rid, cred, null);
          return res;
        } catch (err) {
          upstreamMs = Number(process.hrtime.bigint() - u0) / 1e6;
          throw err;
        }
      } catch (err) {
        finish(t0, upstreamMs, rid, cred, err);
        throw publicError(err);
      }
    };
  }

  const remoteKey = createContextKey("");
  const api = connectNodeAdapter({
    requestPathPrefix: "/api",
    // Connect's default is 4 GiB a message, read into memory before any
    // check: one client could exhaust the gateway's memory.
    readMaxBytes: MAX_REQUEST_BYTES,
    contextValues: (req) => createContextValues().set(remoteKey, clientAddress(req.socket)),
    routes: (router) => {
      for (const [service, , methods] of ROUTES) {
        for (const local of methods) {
          const method = service.method[local];
          router.rpc(method, bridge(service, method));
        }
      }
    },
    // A path under /api/ that is not a bridged method: Connect's UNIMPLEMENTED
    // (404) as JSON, as a Connect client expects, not the static "not found".
    fallback: (req, res) => errorAnswer(res, 404, "unimplemented", "the gateway does not bridge this method"),
  });

  const fontDir = options.fontDir;
  const publicDir = options.publicDir || PUBLIC_DIR;

  function notFound(res) {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("not found\n");
  }

  // An error answer in the shape of a Connect error ({code, message}), for
  // requests the gateway refuses before routing them.
  function errorAnswer(res, status, code, message, extraHeaders = {}) {
    if (res.headersSent) return void res.destroy();
    const body = JSON.stringify({ code, message }) + "\n";
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body),
                            "cache-control": "no-store", ...extraHeaders });
    res.end(body);
  }

  // Over the request-body budget (limits.js): 503 RESOURCE_EXHAUSTED with a
  // retry hint; `Connection: close` makes Node close the connection once the
  // answer is out (the rest of the body is not read).
  function refuseBytes(req, res, address) {
    metrics.refused("request_bytes");
    log({ level: "warn", event: "limit", limit: "request_bytes", client: address, held: bodyBudget.total,
          held_large: bodyBudget.large });
    if (res.headersSent || res.writableEnded) return void req.socket.destroy();
    errorAnswer(res, 503, "resource_exhausted",
                `the gateway holds too many request bytes; retry in ${RETRY_AFTER_S} s`,
                { "retry-after": String(RETRY_AFTER_S), connection: "close" });
  }

  // Counts an /api/ request's body against the budget until it is answered;
  // false when it was refused (answered here).
  function admitBody(req, res) {
    const address = normaliseAddress(clientAddress(req.socket));
    const cl = req.headers["content-length"];
    const declared = typeof cl === "string" && /^\d{1,15}$/.test(cl) ? +cl : undefined;
    const ok = holdBody(req, res, {
      budget: bodyBudget, address, declared, maxBytes: MAX_REQUEST_BYTES,
      onRefused: () => refuseBytes(req, res, address),
    });
    if (!ok) refuseBytes(req, res, address);
    return ok;
  }

  // A handler failed (a bug, or input nobody anticipated): the caller gets 500
  // and a fixed message, the log gets the detail; the process goes on (the
  // failure is confined to this request, no shared state is half-updated).
  function internalError(req, res, err) {
    metrics.httpRequest("error");
    log({ level: "error", event: "http", method: req.method, target: String(req.url).slice(0, 200),
          error: err instanceof Error ? err.message : String(err),
          stack: err instanceof Error && err.stack ? err.stack.split("\n").slice(0, 6).join(" | ") : undefined });
    try {
      errorAnswer(res, 500, "internal", "internal error in the gateway");
    } catch {
      res.destroy();
    }
  }

  // Wraps a callback (fs, streams) run outside the request handler's own
  // try/catch, so that its exceptions reach internalError too.
  function guarded(req, res, fn) {
    return (...args) => {
      try {
        return fn(...args);
      } catch (err) {
        internalError(req, res, err);
      }
    };
  }

  // Serves a file under `root` for the URL path `rel`; 404 for anything
  // outside root (no traversal, no dot files, no directory listings).
  function serveFile(req, res, root, rel, cacheSeconds) {
    const decoded = (() => { try { return decodeURIComponent(rel); } catch { return null; } })();
    if (decoded === null || decoded.includes("\0") || decoded.split("/").some((s) => s.startsWith("."))) {
      return notFound(res);
    }
    const file = path.resolve(root, "." + path.posix.normalize("/" + decoded));
    if (!file.startsWith(path.resolve(root) + path.sep)) return notFound(res);
    fs.stat(file, guarded(req, res, (err, st) => {
      if (err || !st.isFile()) return notFound(res);
      // A read error (the file removed or replaced after the stat) must not
      // be an unhandled 'error' event, which would end the process: 500
      // before the headers, else the response is cut off.
      const stream = fs.createReadStream(file);
      stream.on("error", (e) => internalError(req, res, e));
      res.on("close", () => stream.destroy());
      stream.once("open", guarded(req, res, () => {
        res.writeHead(200, {
          "content-type": CONTENT_TYPES[path.extname(file)] || "application/octet-stream",
          "content-length": st.size,
          "cache-control": cacheSeconds > 0 ? `public, max-age=${cacheSeconds}` : "no-cache",
        });
        stream.pipe(res);
      }));
    }));
  }

  // GET /healthz answers anyone (balancers, probes) without credentials, so
  // one check of the backends serves every request within HEALTH_REUSE_MS of
  // its start (those in flight wait for it): a client sending many cannot
  // turn each into three upstream calls.
  const HEALTH_REUSE_MS = 1000;
  let lastHealth = null;  // {at, promise of {ok, backends}}
  async function health(res) {
    const now = Date.now();
    if (!lastHealth || now - lastHealth.at >= HEALTH_REUSE_MS || now < lastHealth.at) {
      lastHealth = { at: now, promise: checkBackends() };
    }
    const { ok, backends } = await lastHealth.promise;
    res.writeHead(ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify({ status: ok ? "SERVING" : "NOT_SERVING", backends }) + "\n");
  }

  async function checkBackends() {
    // Each backend is reachable when it answers Echo at all (UNAUTHENTICATED
    // included: the gateway has no token of its own for this).
    const checks = await Promise.all(Object.entries({
      records: [LearningRecordService], catalog: [CourseCatalogService], recommend: [RecommendationService],
    }).map(async ([backend, [service]]) => {
      try {
        await clients.get(service.typeName).echo({}, { timeoutMs: 2000 });
        return [backend, "reachable"];
      } catch (err) {
        const code = ConnectError.from(err).code;
        return [backend, code === Code.Unavailable || code === Code.DeadlineExceeded ? "unreachable" : "reachable"];
      }
    }));
    return { ok: checks.every(([, s]) => s === "reachable"), backends: Object.fromEntries(checks) };
  }

  // The request target as a URL, or null when it is none. Node's HTTP parser
  // accepts targets that are not URLs ("//[", "http://gateway:99999/"), and
  // `new URL` throws on them. An origin-form target ("/path?query") is read
  // as a path on a fixed origin, so that "//host/x" is the path "//host/x",
  // not the host "host"; an absolute-form one ("http://host/path") as itself.
  function requestUrl(target) {
    if (typeof target !== "string") return null;
    try {
      if (target.startsWith("/")) return new URL("http://gateway" + target);
      if (/^https?:\/\//i.test(target)) return new URL(target);
    } catch {
      return null;
    }
    return null;
  }

  // The Connect adapter builds the request's URL from the Host header and
  // throws (synchronously) when there is none (HTTP/1.0) or it is not a host
  // ("[", "a b"): such a call is refused here instead.
  function apiHostOk(req) {
    const host = req.headers.host;
    if (typeof host !== "string" || host === "") return false;
    try {
      new URL(req.url, `http://${host}`);
      return true;
    } catch {
      return false;
    }
  }

  const route = (req, res) => {
    const url = requestUrl(req.url);
    if (url === null) {
      metrics.httpRequest("bad_request");
      return errorAnswer(res, 400, "invalid_argument", "request target: not a valid URL path");
    }
    const p = url.pathname;
    if (p.startsWith("/api/")) {
      metrics.httpRequest("api");
      if (!apiHostOk(req)) return errorAnswer(res, 400, "invalid_argument", "host: missing or not a valid host name");
      if (!admitBody(req, res)) return undefined;
      // Answers hold personal data (transcripts, histories, exports, kiosk
      // session tokens and pass codes): no browser or proxy may keep a copy.
      res.setHeader("cache-control", "no-store");
      return api(req, res);
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" });
      return res.end();
    }
    metrics.httpRequest("static");
    if (p === "/healthz") return health(res);
    if (p === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      return res.end(metrics.render());
    }
    if (p === "/") { res.writeHead(302, { location: "/app/" }); return res.end(); }
    if (p === "/kiosk" || p === "/app") {
      res.writeHead(301, { location: p + "/" + url.search });
      return res.end();
    }
    if (p === "/kiosk/") return serveFile(req, res, publicDir, "kiosk/index.html", 0);
    if (p === "/app/") return serveFile(req, res, publicDir, "app/index.html", 0);
    if (p.startsWith("/fonts/") && fontDir) return serveFile(req, res, fontDir, p.slice("/fonts/".length), 86400);
    if (p.startsWith("/kiosk/") || p.startsWith("/app/") || p.startsWith("/shared/")) {
      return serveFile(req, res, publicDir, p.slice(1), 0);
    }
    return notFound(res);
  };
  // Every request goes through here: whatever a route throws, synchronously
  // or as a rejected promise, is answered 500 and logged, never left to end
  // the process (an uncaught exception in a request handler would take every
  // kiosk and phone down with it).
  const handler = (req, res) => {
    try {
      // Every answer (pages, redirects, /healthz, /metrics, errors, calls)
      // carries the security headers.
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
      const r = route(req, res);
      if (r && typeof r.then === "function") r.catch((err) => internalError(req, res, err));
    } catch (err) {
      internalError(req, res, err);
    }
  };
  const behindProxy = options.proxyProtocolFrom && options.proxyProtocolFrom.size > 0;
  // Slow clients: headers within headersTimeoutMs, the whole request within
  // requestTimeoutMs (Node checks every connectionsCheckingInterval: often
  // enough for the limits to hold within a quarter of the shorter one).
  const serverOptions = {
    IncomingMessage: CountedRequest,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval:
      Math.min(1000, Math.max(50, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
  };
  // Behind a balancer TLS ends in the PROXY-protocol front, so the server is plain HTTP.
  const server = options.https && !behindProxy
    ? https.createServer({ ...serverOptions, cert: options.https.cert, key: options.https.key, minVersion: "TLSv1.2",
                           handshakeTimeout: limits.headersTimeoutMs }, handler)
    : http.createServer(serverOptions, handler);
  // A connection that moves no byte, either way, for inactivityTimeoutMs is
  // closed (limits.js): Node's socket timeout, which every byte read or
  // written re-arms (a write that moved since it began gets one period more:
  // closed within twice the timeout of its last byte). Kept (the timer
  // re-arms at the next byte) while the gateway owes the answer to a request
  // read whole and has nothing unsent: a call waiting on its service, or a
  // stream between messages, is the upstream deadline's to end.
  server.timeout = limits.inactivityTimeoutMs;
  server.on("timeout", (socket) => {
    const res = socket._httpMessage;
    if (res && res.req && res.req.complete && !res.writableEnded && res.writableLength === 0) return;
    metrics.refused("inactivity_timeout");
    socket.destroy();
  });
  // Connections per client address (the PROXY header's behind a balancer):
  // over the cap a new one is closed unanswered; the client's others go on.
  // admitClient(address) -> the function that gives the place back, or null
  // at the cap; behind a balancer the front calls it at the PROXY header.
  const admitClient = (named) => {
    const address = normaliseAddress(named);
    if (!connections.admit(address)) {
      metrics.refused("client_connections");
      return null;
    }
    return () => connections.release(address);
  };
  let openConnections = 0;
  server.prependListener("connection", (socket) => {
    if (!admittedByFront(socket)) {
      const release = admitClient(clientAddress(socket));
      if (!release) return void socket.destroy();
      socket.once("close", release);
    }
    openConnections++;
    socket.once("close", () => { openConnections--; });
  });
  metrics.gauge("lifelong_web_connections_open", "Client connections open (past the PROXY header behind a balancer).",
                () => openConnections);
  // A client error: Node's own answer (408 for headers or a request too slow,
  // 431, 413, else 400, when no response is under way; then the connection
  // is closed), with the timeouts counted.
  const CLIENT_ERROR_STATUS = {
    ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout", HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large",
    HPE_CHUNK_EXTENSIONS_OVERFLOW: "413 Payload Too Large",
  };
  server.on("clientError", (err, socket) => {
    if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") metrics.refused("request_timeout");
    if (socket.writable && (!socket._httpMessage || !socket._httpMessage._headerSent)) {
      socket.write(`HTTP/1.1 ${CLIENT_ERROR_STATUS[err.code] || "400 Bad Request"}\r\nConnection: close\r\n\r\n`);
    }
    socket.destroy(err);
  });
  // While draining, every response closes its connection (a keep-alive
  // browser then reconnects, through the balancer, to another gateway).
  let draining = false;
  server.prependListener("request", (req, res) => { if (draining) res.shouldKeepAlive = false; });
  const listener = behindProxy
    ? proxyProtocolFront({
      server, trusted: options.proxyProtocolFrom, tls: options.https, headerTimeoutMs: options.proxyHeaderTimeoutMs,
      onRefused: (reason, peer) => log({ level: "warn", event: "proxy_protocol_refused", reason, peer }),
      admitClient,
    })
    : server;
  // Connections in all: over the cap Node closes a new one at once ("drop").
  listener.maxConnections = limits.maxConnections;
  listener.on("drop", () => metrics.refused("max_connections"));

  // stopListening(): closes the listener (and the server behind a front);
  // resolves once every connection has ended.
  const stopListening = () => new Promise((resolve) => {
    let open = listener === server ? 1 : 2;
    const done = () => { if (--open === 0) resolve(); };
    if (listener !== server) listener.close(done);
    server.close(done);
  });
  return {
    server,
    listener,
    metrics,
    // A graceful stop: no new connections (a balancer sends them to another
    // gateway), requests in progress finish, idle connections close.
    drain: () => {
      draining = true;
      const stopped = stopListening();
      server.closeIdleConnections?.();
      return stopped;
    },
    close: () => {
      const stopped = stopListening();
      server.closeAllConnections?.();
      return stopped;
    },
  };
}
