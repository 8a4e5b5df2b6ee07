// The gateway itself: what it bridges and what it refuses, static files,
// health, metrics, logs; and its credential policy as pure functions.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import tls from "node:tls";
import { describe, test } from "node:test";
import { WEB, VENUE, gatewayCall, kioskPass, mintToken, operatorToken, rawRequest } from "./harness.mjs";
import {
  Code, CourseCatalogService, checkKioskWrite, chooseCredential, createClient, createConnectTransport,
  ERASE_TIMEOUT_MS, createGateway, createGrpcWebTransport, hostName, parseKioskClients, peekClaims, upstreamTimeoutMs,
} from "../../services/web/testing.js";

// http or https, as WEB is (WEB_TEST_TLS=1: https, the development CA trusted
// through NODE_EXTRA_CA_CERTS).
const httpFor = (u) => (u.protocol === "https:" ? https : http);

// A GET with the path sent exactly as given (fetch would normalise "..").
function rawGet(rawPath) {
  return new Promise((resolve, reject) => {
    const u = new URL(WEB);
    httpFor(u).get({ host: u.hostname, port: u.port, path: rawPath }, (res) => { res.resume(); resolve(res.statusCode); })
      .on("error", reject);
  });
}

const op = () => ({ authorization: `Bearer ${operatorToken()}` });

describe("gateway bridge", () => {
  test("only the listed methods are bridged: internal, operator and write methods answer 404 even for an operator", async () => {
    for (const [svc, m] of [["LearningRecordService", "ExportStatements"], ["LearningRecordService", "ListAuditEvents"],
                            ["LearningRecordService", "WatchLearnerChanges"], ["LearningRecordService", "VoidStatement"],
                            ["CourseCatalogService", "CreateCourse"], ["CourseCatalogService", "ArchiveCourse"],
                            ["CourseCatalogService", "PutProgramme"], ["RecommendationService", "PinModelVersion"],
                            ["NoSuchService", "Foo"]]) {
      const r = await gatewayCall(svc, m, {}, op());
      assert.equal(r.status, 404, `${svc}/${m}`);
    }
  });

  test("credentials: none, malformed and forged tokens are refused; a learner's token is forwarded as is", async () => {
    const none = await gatewayCall("CourseCatalogService", "GetCourse", { id: "c00001" });
    assert.equal(none.body.code, "unauthenticated");
    const basic = await gatewayCall("CourseCatalogService", "GetCourse", { id: "c00001" }, { authorization: "Basic bGlmZWxvbmc6eA==" });
    assert.equal(basic.body.code, "unauthenticated");
    assert.match(basic.body.message, /^authorization:/);
    const parts = mintToken("learner", "u000070").split(".");
    const forged = [parts[0], Buffer.from(JSON.stringify({ ...peekClaims(parts.join(".")), role: "operator" })).toString("base64url"), parts[2]];
    const f = await gatewayCall("CourseCatalogService", "GetCourse", { id: "c00001" }, { authorization: `Bearer ${forged.join(".")}` });
    assert.equal(f.body.code, "unauthenticated");
    const ok = await gatewayCall("CourseCatalogService", "GetCourse", { id: "c00001" }, { authorization: `Bearer ${mintToken("learner", "u000070")}` });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.id, "c00001");
  });

  test("bad input gets the service's error naming the field", async () => {
    const r = await gatewayCall("RecommendationService", "Recommend", { k: 1000 }, op());
    assert.equal(r.body.code, "invalid_argument");
    assert.match(r.body.message, /^k:/);
    const nf = await gatewayCall("CourseCatalogService", "GetCourse", { id: "no-such-course" }, op());
    assert.equal(nf.body.code, "not_found");
    const junk = await fetch(`${WEB}/api/lifelong.v1.CourseCatalogService/GetCourse`, {
      method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    assert.equal((await junk.json()).code, "invalid_argument");
  });

  test("static files: pages, no traversal, no dot files, security headers, nothing from another origin", async () => {
    const kiosk = await fetch(`${WEB}/kiosk/?venue=${VENUE}`);
    assert.equal(kiosk.status, 200);
    assert.match(kiosk.headers.get("content-security-policy"), /default-src 'self'/);
    assert.equal(kiosk.headers.get("x-content-type-options"), "nosniff");
    for (const p of ["/kiosk/../../gateway/main.js", "/app/%2e%2e/%2e%2e/package.json", "/shared/.hidden",
                     "/fonts/../../../etc/passwd", "/app/%00", "/nothing", "/kiosk/..%2f..%2fgateway%2fmain.js", "/shared/%2e%2e/%2e%2e/package.json"]) {
      assert.equal(await rawGet(p), 404, p);
    }
    assert.equal((await fetch(`${WEB}/kiosk/`, { method: "POST" })).status, 405);
    // No CDN or other origin in any page, style or script.
    const dir = path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "../../services/web/public");
    const files = fs.readdirSync(dir, { recursive: true }).filter((f) => /\.(html|css|js|webmanifest)$/.test(f));
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      const refs = [...text.matchAll(/(?:src|href|url)\s*[=(]\s*["']?(https?:)?\/\/[^"')\s]+/g)].map((m) => m[0]);
      assert.deepEqual(refs, [], `${f} loads from another origin`);
    }
    const font = await fetch(`${WEB}/fonts/NotoSansCJK-Regular.ttc`, { method: "HEAD" });
    assert.equal(font.status, 200, "the bundled font is served by the gateway");
  });

  test("gRPC-Web and Connect (binary) clients are bridged too", async () => {
    const headers = { authorization: `Bearer ${mintToken("learner", "u000071")}` };
    for (const [name, transport] of [
      ["grpc-web", createGrpcWebTransport({ baseUrl: `${WEB}/api`, httpVersion: "1.1" })],
      ["connect binary", createConnectTransport({ baseUrl: `${WEB}/api`, httpVersion: "1.1", useBinaryFormat: true })]]) {
      const c = await createClient(CourseCatalogService, transport).getCourse({ id: "c00001" }, { headers });
      assert.equal(c.id, "c00001", name);
    }
  });

  test("health and metrics", async () => {
    const hz = await (await fetch(`${WEB}/healthz`)).json();
    assert.deepEqual(hz, { status: "SERVING", backends: { records: "reachable", catalog: "reachable", recommend: "reachable" } });
    await gatewayCall("CourseCatalogService", "GetCourse", { id: "c00001" }, op());
    const m = await (await fetch(`${WEB}/metrics`)).text();
    assert.match(m, /lifelong_web_rpc_total\{method="lifelong.v1.CourseCatalogService\/GetCourse",code="OK"\} [1-9]/);
    assert.match(m, /lifelong_web_rpc_seconds_count\{method="lifelong.v1.CourseCatalogService\/GetCourse"\} [1-9]/);
    assert.match(m, /lifelong_web_upstream_seconds_sum/);
  });
});

describe("gateway: request targets and hosts that are not URLs", () => {
  // Node's HTTP parser accepts these; `new URL` threw on them in the request
  // handler and the exception ended the gateway (every kiosk and phone with it).
  test("an unparseable request target is 400 (or 404), and the gateway still answers /healthz", async () => {
    const host = new URL(WEB).host;
    const bracket = await rawRequest(WEB, `GET //[ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.ok(bracket.status === 400 || bracket.status === 404, `GET //[ answered ${bracket.status}: ${bracket.body}`);
    const badPort = await rawRequest(WEB, `GET http://gateway:99999/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(badPort.status, 400, badPort.body);
    assert.deepEqual(JSON.parse(badPort.body), { code: "invalid_argument", message: "request target: not a valid URL path" });
    const star = await rawRequest(WEB, `GET * HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.equal(star.status, 400, star.body);
    // A bridged method with no Host (HTTP/1.0) or one that is not a host name:
    // the Connect adapter threw on these too.
    const call = "POST /api/lifelong.v1.CourseCatalogService/GetCourse";
    const json = "Content-Type: application/json\r\nContent-Length: 2\r\n";
    for (const [name, text] of [["no Host", `${call} HTTP/1.0\r\n${json}\r\n{}`],
                                ["Host: [", `${call} HTTP/1.1\r\nHost: [\r\nConnection: close\r\n${json}\r\n{}`],
                                ["Host: a b", `${call} HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n${json}\r\n{}`]]) {
      const r = await rawRequest(WEB, text);
      assert.equal(r.status, 400, `${name}: ${r.status} ${r.body}`);
      assert.equal(JSON.parse(r.body).code, "invalid_argument", name);
    }
    const hz = await fetch(`${WEB}/healthz`);
    assert.equal(hz.status, 200);
    assert.equal((await hz.json()).status, "SERVING");
    const ok = await gatewayCall("CourseCatalogService", "GetCourse", { id: "c00001" }, op());
    assert.equal(ok.body.id, "c00001");
  });

  test("a handler that throws answers 500 with a fixed message, and the gateway keeps serving", async () => {
    // fontDir that is not a path: serving /fonts/ throws a TypeError in the
    // handler, as any unforeseen bug would.
    const gw = createGateway({
      backends: { records: "127.0.0.1:1", catalog: "127.0.0.1:1", recommend: "127.0.0.1:1" }, tls: null,
      kioskTokens: new Map(), kioskClients: parseKioskClients(""), upstreamTimeoutMs: 2000, fontDir: { broken: true },
    });
    await new Promise((r) => gw.server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${gw.server.address().port}`;
    try {
      const res = await fetch(`${base}/fonts/NotoSansCJK-Regular.ttc`);
      assert.equal(res.status, 500);
      const body = await res.json();
      assert.deepEqual(body, { code: "internal", message: "internal error in the gateway" });
      assert.equal((await fetch(`${base}/kiosk/?venue=x`)).status, 200);
      assert.equal((await fetch(`${base}/healthz`)).status, 503, "services down, gateway up");
      assert.match(await (await fetch(`${base}/metrics`)).text(), /lifelong_web_http_requests_total\{kind="error"\} 1/);
    } finally {
      await gw.close();
    }
  });
});

describe("gateway with its services down", () => {
  test("/healthz is 503 naming them, a call is UNAVAILABLE within its deadline, static files still load", async () => {
    const gw = createGateway({
      backends: { records: "127.0.0.1:1", catalog: "127.0.0.1:1", recommend: "127.0.0.1:1" }, tls: null,
      kioskTokens: new Map(), kioskClients: parseKioskClients(""), upstreamTimeoutMs: 2000, fontDir: "",
    });
    await new Promise((r) => gw.server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${gw.server.address().port}`;
    try {
      const hz = await fetch(`${base}/healthz`);
      assert.equal(hz.status, 503);
      assert.deepEqual((await hz.json()).backends, { records: "unreachable", catalog: "unreachable", recommend: "unreachable" });
      const t0 = Date.now();
      const res = await fetch(`${base}/api/lifelong.v1.RecommendationService/Recommend`, {
        method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      const body = await res.json();
      assert.equal(body.code, "unavailable");
      // Node's transport message names the services' addresses: kept in the log, not shown.
      assert.doesNotMatch(body.message, /127\.0\.0\.1|ECONNREFUSED|connect/, body.message);
      assert.ok(Date.now() - t0 < 5000);
      assert.equal((await fetch(`${base}/kiosk/?venue=x`)).status, 200);
    } finally {
      await gw.close();
    }
  });

  test("a request body over the limit is refused before it is parsed or forwarded, with or without credentials", async () => {
    const gw = createGateway({
      backends: { records: "127.0.0.1:1", catalog: "127.0.0.1:1", recommend: "127.0.0.1:1" }, tls: null,
      kioskTokens: new Map(), kioskClients: parseKioskClients(""), upstreamTimeoutMs: 2000, fontDir: "",
    });
    await new Promise((r) => gw.server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${gw.server.address().port}`;
    try {
      // 16 MiB of statement: the service takes at most 1 MiB a statement.
      const huge = JSON.stringify({ statementJson: "x".repeat(16 << 20) });
      const res = await fetch(`${base}/api/lifelong.v1.LearningRecordService/RecordStatement`, {
        method: "POST", headers: { "content-type": "application/json" }, body: huge });
      const body = await res.json();
      assert.equal(body.code, "resource_exhausted", JSON.stringify(body).slice(0, 200));
      // A statement of 1 MiB still reaches the service (down here: unavailable).
      const fine = JSON.stringify({ statementJson: "x".repeat(1 << 20) });
      const ok = await fetch(`${base}/api/lifelong.v1.LearningRecordService/RecordStatement`, {
        method: "POST", headers: { "content-type": "application/json" }, body: fine });
      assert.equal((await ok.json()).code, "unavailable");
    } finally {
      await gw.close();
    }
  });
});

describe("gateway called by another host name", () => {
  test("a page whose DNS name was rebound to the gateway cannot act as a kiosk", async () => {
    const url = new URL(WEB);
    const call = (host) => new Promise((resolve, reject) => {
      const req = httpFor(url).request({
        hostname: url.hostname, port: url.port, method: "POST",
        // Over HTTPS Node would check the certificate against the Host header
        // (the attacker's name); it is checked against the address dialled.
        checkServerIdentity: (_, cert) => tls.checkServerIdentity(url.hostname, cert),
        path: "/api/lifelong.v1.RecommendationService/Recommend",
        headers: { host, "content-type": "application/json", "x-lifelong-kiosk": VENUE },
      }, (res) => {
        let body = "";
        res.on("data", (d) => { body += d; });
        res.on("end", () => resolve(JSON.parse(body || "{}")));
      });
      req.on("error", reject);
      req.end(JSON.stringify({ k: 3, context: { channel: "CHANNEL_KIOSK", kioskVenueId: VENUE } }));
    });
    const rebound = await call(`rebind.attacker.example:${url.port}`);
    assert.equal(rebound.code, "permission_denied", JSON.stringify(rebound));
    assert.match(rebound.message, /kiosk host name/);
    const kiosk = await call(url.host);
    assert.ok(Array.isArray(kiosk.recommendations) && kiosk.recommendations.length > 0, JSON.stringify(kiosk).slice(0, 200));
  });
});

// A Connect (JSON) call through the stack's gateway from another loopback
// address (Linux routes all of 127/8 to the loopback device).
function callFrom(localAddress, service, method, body, headers = {}) {
  const url = new URL(WEB);
  return new Promise((resolve, reject) => {
    const req = httpFor(url).request({
      hostname: url.hostname, port: url.port, method: "POST", localAddress,
      path: `/api/lifelong.v1.${service}/${method}`,
      headers: { "content-type": "application/json", ...headers },
    }, (res) => {
      let text = "";
      res.on("data", (d) => { text += d; });
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(text || "null") }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("kiosk clients bound to their venues (--kiosk_clients)", () => {
  // ops/test_web.sh's stack binds the loopback 127.0.0.1 and ::1 to each of its
  // venues (ops/web.sh's development default); 127.0.0.9 is no venue's kiosk.
  test("a kiosk header from an address bound to no venue is refused; a kiosk session copied off the kiosk is no use elsewhere", async () => {
    const recommend = { k: 3, context: { channel: "CHANNEL_KIOSK", kioskVenueId: VENUE } };
    const stranger = await callFrom("127.0.0.9", "RecommendationService", "Recommend", recommend, { "x-lifelong-kiosk": VENUE });
    assert.equal(stranger.body.code, "permission_denied", JSON.stringify(stranger.body));
    assert.match(stranger.body.message, /client 127\.0\.0\.9 may not act as a kiosk/);
    const s = await gatewayCall("LearningRecordService", "RedeemKioskPass",
      { code: await kioskPass(mintToken("learner", "u000044")) }, { "x-lifelong-kiosk": VENUE });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    const own = { ...recommend, learner: "u000044" };
    const session = { authorization: `Bearer ${s.body.token}` };
    const copied = await callFrom("127.0.0.9", "RecommendationService", "Recommend", own, session);
    assert.equal(copied.body.code, "permission_denied", JSON.stringify(copied.body));
    assert.match(copied.body.message, new RegExp(`kiosk token of venue ${VENUE}, but client 127\\.0\\.0\\.9 is not a kiosk of that venue`));
    const atKiosk = await callFrom("127.0.0.1", "RecommendationService", "Recommend", own, { ...session, "x-lifelong-kiosk": VENUE });
    assert.equal(atKiosk.status, 200, JSON.stringify(atKiosk.body));
  });
});

describe("credential policy (pure)", () => {
  const cfg = { kioskTokens: new Map([["a-venue", "h.eyJyb2xlIjoia2lvc2siLCJ2ZW51ZSI6ImEtdmVudWUifQ.s"]]),
                kioskClients: parseKioskClients("a-venue=127.0.0.1") };
  const jwt = (claims) => `h.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.s`;

  test("kiosk header: the venue's token, only from allowed clients, only for configured venues", () => {
    const c = chooseCredential({ "x-lifelong-kiosk": "a-venue" }, "::ffff:127.0.0.1", cfg);
    assert.equal(c.principal.kind, "kiosk");
    assert.equal(c.authorization, `Bearer ${cfg.kioskTokens.get("a-venue")}`);
    assert.throws(() => chooseCredential({ "x-lifelong-kiosk": "a-venue" }, "10.0.0.9", cfg), /may not act as a kiosk/);
    assert.throws(() => chooseCredential({ "x-lifelong-kiosk": "b-venue" }, "127.0.0.1", cfg), /no kiosk is configured/);
    assert.throws(() => chooseCredential({ "x-lifelong-kiosk": "A B" }, "127.0.0.1", cfg), /must be a venue id/);
  });

  test("kiosk clients are bound to their venues: a kiosk acts, and its tokens count, at its own venue only", () => {
    const jwtOf = (claims) => `h.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.s`;
    const bound = {
      kioskTokens: new Map([["a-venue", jwtOf({ role: "kiosk", venue: "a-venue" })],
                            ["b-venue", jwtOf({ role: "kiosk", venue: "b-venue" })]]),
      kioskClients: parseKioskClients("a-venue=10.1.0.0/24, b-venue=10.2.0.5,a-venue=2001:db8::/64,b-venue=10.1.0.77"),
    };
    const as = (venue, addr, extra = {}) => chooseCredential({ "x-lifelong-kiosk": venue, ...extra }, addr, bound);
    assert.equal(as("a-venue", "10.1.0.9").authorization, `Bearer ${bound.kioskTokens.get("a-venue")}`);
    assert.equal(as("a-venue", "::ffff:10.1.0.200").principal.venue, "a-venue");
    assert.equal(as("a-venue", "2001:db8::7").principal.venue, "a-venue");
    assert.equal(as("b-venue", "10.2.0.5").authorization, `Bearer ${bound.kioskTokens.get("b-venue")}`);
    // One address may serve two venues when it is bound to both.
    assert.equal(as("a-venue", "10.1.0.77").principal.venue, "a-venue");
    assert.equal(as("b-venue", "10.1.0.77").principal.venue, "b-venue");
    // A kiosk of one venue is refused as the kiosk of another, by name (PERMISSION_DENIED).
    for (const [venue, addr] of [["b-venue", "10.1.0.9"], ["a-venue", "10.2.0.5"], ["b-venue", "2001:db8::7"]]) {
      assert.throws(() => as(venue, addr), (e) => e.code === Code.PermissionDenied &&
        e.rawMessage === `x-lifelong-kiosk: client ${addr} is not a kiosk of venue ${venue} (--kiosk_clients)`, `${venue} ${addr}`);
    }
    assert.throws(() => as("a-venue", "10.9.9.9"), /client 10\.9\.9\.9 may not act as a kiosk/);
    assert.throws(() => as("a-venue", "10.1.1.9"), /may not act as a kiosk/);  // outside the /24
    // A session of venue a is no use at venue b's kiosk, nor from an address that is no kiosk of a,
    // with or without the kiosk header; a learner's token is not bound to an address.
    const session = `Bearer ${jwtOf({ role: "kiosk", venue: "a-venue", learner: "u1" })}`;
    assert.equal(as("a-venue", "10.1.0.9", { authorization: session }).principal.claims.learner, "u1");
    assert.throws(() => as("b-venue", "10.2.0.5", { authorization: session }), /not a session of the kiosk at venue b-venue/);
    assert.equal(chooseCredential({ authorization: session }, "10.1.0.9", bound).principal.kind, "bearer");
    for (const addr of ["10.2.0.5", "10.9.9.9", "::1"]) {
      assert.throws(() => chooseCredential({ authorization: session }, addr, bound),
        (e) => e.code === Code.PermissionDenied && /kiosk token of venue a-venue, but client .* is not a kiosk of that venue/.test(e.rawMessage), addr);
    }
    const bare = `Bearer ${jwtOf({ role: "kiosk", venue: "b-venue" })}`;
    assert.throws(() => chooseCredential({ authorization: bare }, "10.1.0.9", bound), /not a kiosk of that venue/);
    assert.equal(chooseCredential({ authorization: `Bearer ${jwtOf({ role: "learner", sub: "u1" })}` }, "10.9.9.9", bound).principal.kind, "bearer");
  });

  test("--kiosk_clients: venue=address[/prefix] entries only; the flat list of addresses is refused", () => {
    const k = parseKioskClients("a=127.0.0.1,a=::1,b=10.0.0.0/8");
    assert.deepEqual(k.venues, ["a", "b"]);
    assert.deepEqual(k.venuesOf("127.0.0.1"), ["a"]);
    assert.deepEqual(k.venuesOf("10.200.0.1"), ["b"]);
    assert.deepEqual(k.venuesOf("192.168.0.1"), []);
    assert.deepEqual(k.venuesOf(""), []);  // PROXY UNKNOWN: no address
    assert.deepEqual(parseKioskClients("").venues, []);
    for (const [text, why] of [["127.0.0.1", /names no venue/], ["127.0.0.1,::1", /names no venue/],
                               ["a=300.1.1.1", /not an IP address/], ["a=10.0.0.0/33", /prefix must be 0\.\.32/],
                               ["a=::1/129", /prefix must be 0\.\.128/], ["a=10.0.0.1/x", /prefix/],
                               ["A B=10.0.0.1", /venue id/], ["=10.0.0.1", /venue id/], ["a=", /not an IP address/]]) {
      assert.throws(() => parseKioskClients(text), why, text);
    }
  });

  test("kiosk header: only when the gateway is called by a kiosk host name (DNS rebinding)", () => {
    const named = { ...cfg, kioskHosts: new Set(["localhost", "127.0.0.1", "::1", "kiosk.dongcheng.example"]) };
    for (const host of ["127.0.0.1:8090", "localhost", "[::1]:8090", "Kiosk.Dongcheng.Example:443"]) {
      assert.equal(chooseCredential({ "x-lifelong-kiosk": "a-venue", host }, "127.0.0.1", named).principal.kind, "kiosk", host);
    }
    for (const host of ["rebind.attacker.example:8090", "127.0.0.1.attacker.example", undefined]) {
      assert.throws(() => chooseCredential({ "x-lifelong-kiosk": "a-venue", host }, "127.0.0.1", named),
                    /not a kiosk host name/, String(host));
    }
    assert.equal(hostName("[::1]:8090"), "::1");
    assert.equal(hostName("::1"), "::1");
  });

  test("an erasure gets two minutes upstream (it waits for the writes queued before it); other calls the flag's", () => {
    assert.equal(ERASE_TIMEOUT_MS, 120000);
    assert.equal(upstreamTimeoutMs("eraseLearner", 10000), 120000);
    assert.equal(upstreamTimeoutMs("eraseLearner", 300000), 300000);  // never shorter than the flag
    for (const m of ["recommend", "listStatements", "getTranscript", "recordStatement", "exportLearner"]) {
      assert.equal(upstreamTimeoutMs(m, 10000), 10000, m);
    }
  });

  test("a bearer token on a kiosk page must be a session of that kiosk", () => {
    const ok = chooseCredential({ "x-lifelong-kiosk": "a-venue", authorization: `Bearer ${jwt({ role: "kiosk", venue: "a-venue", learner: "u1" })}` }, "127.0.0.1", cfg);
    assert.equal(ok.principal.claims.learner, "u1");
    assert.throws(() => chooseCredential({ "x-lifelong-kiosk": "a-venue", authorization: `Bearer ${jwt({ role: "learner", sub: "u1" })}` }, "127.0.0.1", cfg), /not a session of the kiosk/);
    assert.throws(() => chooseCredential({ authorization: "Bearer " }, "127.0.0.1", cfg), /authorization/);
    assert.throws(() => chooseCredential({ authorization: "Bearer a.b" }, "127.0.0.1", cfg), /not a JWT/);
    assert.equal(chooseCredential({}, "8.8.8.8", cfg).principal.kind, "none");
  });

  test("kiosk writes: only for the session's learner; learners are not restricted here", () => {
    const st = (name) => JSON.stringify({ actor: { account: { homePage: "https://id.dongcheng.gov.cn", name } } });
    const session = { kind: "bearer", claims: { role: "kiosk", venue: "a-venue", learner: "u1" } };
    assert.doesNotThrow(() => checkKioskWrite(session, st("u1")));
    assert.throws(() => checkKioskWrite(session, st("u2")), /statement_json\.actor/);
    assert.throws(() => checkKioskWrite(session, "{"), /not valid JSON/);
    assert.throws(() => checkKioskWrite({ kind: "kiosk", claims: { role: "kiosk" } }, st("u1")), /signed-in learner/);
    assert.doesNotThrow(() => checkKioskWrite({ kind: "bearer", claims: { role: "learner", sub: "u1" } }, st("u2")));
    // A Group named by the session's learner would be filed under its members
    // too; an account of another homePage is another learner.
    const idp = { homePage: "https://id.dongcheng.gov.cn", name: "u1" };
    const group = (extra) => JSON.stringify({ actor: { objectType: "Group", account: idp, ...extra } });
    assert.throws(() => checkKioskWrite(session, group({ member: [{ account: { ...idp, name: "u2" } }] })), /statement_json\.actor/);
    assert.throws(() => checkKioskWrite(session, group({})), /statement_json\.actor/);
    assert.throws(() => checkKioskWrite(session, JSON.stringify({ actor: { account: idp, member: [] } })), /statement_json\.actor/);
    assert.throws(() => checkKioskWrite(session, JSON.stringify({ actor: { account: { homePage: "https://evil.example", name: "u1" } } })), /statement_json\.actor/);
    assert.doesNotThrow(() => checkKioskWrite(session, JSON.stringify({ actor: { objectType: "Agent", account: { homePage: "https://id.dongcheng.gov.cn/", name: "u1" } } })));
  });
});
