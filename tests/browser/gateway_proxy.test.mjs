// The gateway behind a TCP balancer (services/web/gateway/proxy_protocol.js):
// the PROXY v1 header is the only way a client address reaches the kiosk
// check, only the configured balancers may send one, and anything else on
// the port is closed unanswered. Then two gateways behind a real HAProxy
// (send-proxy), as ops/cluster.sh runs them: the kiosk check sees the
// browser's own address, and with one gateway gone the other answers.
// In-process gateways with their services down: no stack is needed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { describe, test } from "node:test";
import { createGateway, parseKioskClients, parseProxyLine } from "../../services/web/testing.js";
import { selfSignedCert } from "./harness.mjs";

const DOWN = { records: "127.0.0.1:1", catalog: "127.0.0.1:1", recommend: "127.0.0.1:1" };
const RECOMMEND = "/api/lifelong.v1.RecommendationService/Recommend";

function gateway(extra) {
  return createGateway({
    backends: DOWN, tls: null, kioskTokens: new Map(), kioskClients: parseKioskClients("beixinqiao-sqxx=10.0.0.7"),
    upstreamTimeoutMs: 1000, fontDir: "", ...extra,
  });
}

async function listen(gw) {
  await new Promise((r) => gw.listener.listen(0, "127.0.0.1", r));
  return gw.listener.address().port;
}

// Sends `bytes` on a fresh connection (from `localAddress`), optionally
// through TLS after `prefix`; resolves with everything answered, and whether
// the gateway closed the connection without answering.
function exchange(port, { prefix = "", bytes = "", secure = false, localAddress, waitMs = 3000, splitMs = 0 }) {
  return new Promise((resolve) => {
    const raw = net.connect({ host: "127.0.0.1", port, localAddress });
    let data = "";
    let done = false;
    const finish = () => { if (!done) { done = true; resolve({ data, closedSilently: data === "" }); } };
    raw.setTimeout(waitMs, () => { raw.destroy(); finish(); });
    raw.on("error", () => {});
    raw.on("close", () => { if (!secure) finish(); });  // also a refused connection
    raw.once("connect", async () => {
      if (!secure) {
        raw.on("data", (d) => { data += d; });
        if (splitMs > 0) {  // header and request in separate packets
          raw.write(prefix);
          await new Promise((r) => setTimeout(r, splitMs));
          if (bytes) raw.write(bytes);
        } else {
          raw.write(prefix + bytes);  // one write: the request's first bytes arrive with the header
        }
        return;
      }
      if (prefix) raw.write(prefix);
      const t = tls.connect({ socket: raw, rejectUnauthorized: false }, () => t.write(bytes));
      t.setEncoding("utf8");
      t.on("data", (d) => { data += d; });
      t.on("error", () => {});
      t.on("close", finish);
    });
  });
}

const kioskCall = (host = "127.0.0.1", venue = "beixinqiao-sqxx") =>
  `POST ${RECOMMEND} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nx-lifelong-kiosk: ${venue}\r\n` +
  "Content-Length: 2\r\nConnection: close\r\n\r\n{}";

describe("PROXY protocol v1 header (pure)", () => {
  test("well-formed lines name the client; anything else is refused", () => {
    assert.deepEqual(parseProxyLine("PROXY TCP4 10.0.0.7 127.0.0.1 51234 8090"), { address: "10.0.0.7" });
    assert.deepEqual(parseProxyLine("PROXY TCP6 2001:db8::7 ::1 51234 8090"), { address: "2001:db8::7" });
    // UNKNOWN: no client address (never a kiosk's); the rest of the line is ignored.
    assert.deepEqual(parseProxyLine("PROXY UNKNOWN"), { address: "" });
    assert.deepEqual(parseProxyLine("PROXY UNKNOWN 10.0.0.7 127.0.0.1 1 2"), { address: "" });
    for (const bad of ["", "PROXY", "proxy TCP4 10.0.0.7 127.0.0.1 1 2", "PROXY TCP4 10.0.0.7 127.0.0.1 1",
      "PROXY TCP4 10.0.0.7  127.0.0.1 1 2", "PROXY TCP4 2001:db8::7 127.0.0.1 1 2", "PROXY TCP6 10.0.0.7 ::1 1 2",
      "PROXY TCP4 10.0.0.7 127.0.0.1 65536 2", "PROXY TCP4 10.0.0.7 127.0.0.1 01 2", "PROXY UDP4 10.0.0.7 127.0.0.1 1 2",
      "PROXY TCP4 10.0.0.700 127.0.0.1 1 2", "PROXY TCP4 10.0.0.7 127.0.0.1 1 2 extra", "GET / HTTP/1.1"]) {
      assert.equal(parseProxyLine(bad), null, bad);
    }
  });
});

describe("gateway behind a balancer (--proxy_protocol_from)", () => {
  test("the header's client address is what the kiosk check sees, for its own venue only", async () => {
    const gw = gateway({ proxyProtocolFrom: new Set(["127.0.0.1"]) });
    const port = await listen(gw);
    try {
      const stranger = await exchange(port, { prefix: "PROXY TCP4 10.0.0.8 127.0.0.1 5555 8090\r\n", bytes: kioskCall() });
      assert.match(stranger.data, /client 10\.0\.0\.8 may not act as a kiosk/, stranger.data);
      // The kiosk's address passes the check (the call then fails only on the services being down).
      const kiosk = await exchange(port, { prefix: "PROXY TCP4 10.0.0.7 127.0.0.1 5555 8090\r\n", bytes: kioskCall() });
      assert.match(kiosk.data, /^HTTP\/1\.1 /, kiosk.data);
      assert.doesNotMatch(kiosk.data, /may not act as a kiosk/, kiosk.data);
      // The kiosk of beixinqiao is no kiosk of another venue.
      const elsewhere = await exchange(port, { prefix: "PROXY TCP4 10.0.0.7 127.0.0.1 5555 8090\r\n", bytes: kioskCall("127.0.0.1", "dongsi-sqxx") });
      assert.match(elsewhere.data, /permission_denied.*client 10\.0\.0\.7 is not a kiosk of venue dongsi-sqxx/, elsewhere.data);
      // Header and request in separate packets.
      const split = await exchange(port, { prefix: "PROXY TCP4 10.0.0.8 127.0.0.1 5555 8090\r\n", bytes: kioskCall(), splitMs: 100 });
      assert.match(split.data, /client 10\.0\.0\.8 may not act as a kiosk/, split.data);
      // UNKNOWN (the balancer could not tell): answered, but as no address, so never a kiosk.
      const unknown = await exchange(port, { prefix: "PROXY UNKNOWN\r\n", bytes: kioskCall() });
      assert.match(unknown.data, /client {2}may not act as a kiosk/, unknown.data);
      const health = await exchange(port, { prefix: "PROXY UNKNOWN\r\n", bytes: "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" });
      assert.match(health.data, /^HTTP\/1\.1 503 /, health.data);
    } finally {
      await gw.close();
    }
  });

  test("without a header, with a malformed or oversized one, or from a peer that is not a balancer: closed unanswered", async () => {
    const gw = gateway({ proxyProtocolFrom: new Set(["127.0.0.1"]) });
    const port = await listen(gw);
    const other = gateway({ proxyProtocolFrom: new Set(["10.9.9.9"]) });
    const otherPort = await listen(other);
    try {
      const plain = await exchange(port, { bytes: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" });
      assert.ok(plain.closedSilently, `answered without a header: ${plain.data}`);
      const bad = await exchange(port, { prefix: "PROXY TCP4 10.0.0.7 127.0.0.1 5555\r\n", bytes: kioskCall() });
      assert.ok(bad.closedSilently, `answered a malformed header: ${bad.data}`);
      const long = await exchange(port, { prefix: "PROXY TCP4 " + "1".repeat(200) });
      assert.ok(long.closedSilently, `answered an oversized header: ${long.data}`);
      // A header naming the kiosk's address, from a peer that is not the balancer.
      const forged = await exchange(otherPort, { prefix: "PROXY TCP4 10.0.0.7 127.0.0.1 5555 8090\r\n", bytes: kioskCall() });
      assert.ok(forged.closedSilently, `answered a peer that is not a balancer: ${forged.data}`);
    } finally {
      await gw.close();
      await other.close();
    }
  });

  test("a connection that sends nothing is closed once the header's time is up", async () => {
    const gw = gateway({ proxyProtocolFrom: new Set(["127.0.0.1"]), proxyHeaderTimeoutMs: 300 });
    const port = await listen(gw);
    try {
      const t0 = Date.now();
      const idle = await exchange(port, { waitMs: 5000 });
      assert.ok(idle.closedSilently);
      assert.ok(Date.now() - t0 < 2500, `held for ${Date.now() - t0} ms`);
    } finally {
      await gw.close();
    }
  });

  test("a graceful stop closes idle keep-alive connections at once and lets none linger", async () => {
    const gw = gateway({ proxyProtocolFrom: new Set(["127.0.0.1"]) });
    const port = await listen(gw);
    // One request on a keep-alive connection, answered; the connection stays open, idle.
    const raw = net.connect({ host: "127.0.0.1", port });
    let data = "";
    const closed = new Promise((r) => raw.on("close", r));
    raw.on("data", (d) => { data += d; });
    raw.on("error", () => {});
    await new Promise((r) => raw.once("connect", r));
    raw.write("PROXY TCP4 10.0.0.8 127.0.0.1 5555 8090\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    for (let i = 0; i < 50 && !data.includes("\r\n\r\n"); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(data, /^HTTP\/1\.1 503 /, data);
    const t0 = Date.now();
    await gw.drain();
    await closed;
    assert.ok(Date.now() - t0 < 2000, `drain took ${Date.now() - t0} ms with an idle keep-alive connection`);
  });

  test("HTTPS: TLS ends after the header, in the gateway", async () => {
    const gw = gateway({ proxyProtocolFrom: new Set(["127.0.0.1"]), https: selfSignedCert() });
    const port = await listen(gw);
    try {
      const r = await exchange(port, { prefix: "PROXY TCP4 10.0.0.8 127.0.0.1 5555 8090\r\n", bytes: kioskCall(), secure: true });
      assert.match(r.data, /client 10\.0\.0\.8 may not act as a kiosk/, r.data);
      const plain = await exchange(port, { prefix: "PROXY TCP4 10.0.0.8 127.0.0.1 5555 8090\r\n", bytes: kioskCall() });
      assert.doesNotMatch(plain.data, /^HTTP\/1\.1/, "plain HTTP answered on the HTTPS port");
    } finally {
      await gw.close();
    }
  });
});

const HAPROXY = ["/usr/sbin/haproxy", "/usr/bin/haproxy"].find((p) => fs.existsSync(p));

describe("two gateways behind HAProxy (send-proxy), as ops/cluster.sh runs them", { skip: !HAPROXY && "haproxy not installed" }, () => {
  test("the kiosk check sees the browser's address and its venue; with one gateway gone the other answers", async () => {
    // Kiosks at 127.0.0.5; a browser elsewhere at 127.0.0.6 (loopback takes any 127/8 source).
    const gws = [0, 1].map(() => gateway({ proxyProtocolFrom: new Set(["127.0.0.1"]), kioskClients: parseKioskClients("beixinqiao-sqxx=127.0.0.5") }));
    const ports = [];
    for (const gw of gws) ports.push(await listen(gw));
    const front = await new Promise((r) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => r(p)); }); });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gw-haproxy-"));
    fs.writeFileSync(`${dir}/haproxy.cfg`, [
      "defaults", "    mode tcp", "    timeout connect 2s", "    timeout client 30s", "    timeout server 30s",
      "    option redispatch 1", "    retries 2",
      "    default-server inter 250ms fastinter 250ms downinter 250ms fall 2 rise 1",
      "frontend web", `    bind 127.0.0.1:${front}`, "    default_backend web",
      "backend web", "    balance roundrobin",
      ...ports.map((p, i) => `    server web-${i + 1} 127.0.0.1:${p} send-proxy check check-send-proxy`), "",
    ].join("\n"));
    const haproxy = spawn(HAPROXY, ["-f", `${dir}/haproxy.cfg`, "-db"], { stdio: "ignore" });
    try {
      let up = false;
      for (let i = 0; i < 50 && !up; i++) {
        up = !(await exchange(front, { bytes: "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", localAddress: "127.0.0.5" })).closedSilently;
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(up, "HAProxy did not come up");
      for (let i = 0; i < 4; i++) {  // round robin: both gateways
        const stranger = await exchange(front, { bytes: kioskCall(), localAddress: "127.0.0.6" });
        assert.match(stranger.data, /client 127\.0\.0\.6 may not act as a kiosk/, stranger.data);
        const kiosk = await exchange(front, { bytes: kioskCall(), localAddress: "127.0.0.5" });
        assert.match(kiosk.data, /^HTTP\/1\.1 /, kiosk.data);
        assert.doesNotMatch(kiosk.data, /may not act as a kiosk|is not a kiosk/, kiosk.data);
        const elsewhere = await exchange(front, { bytes: kioskCall("127.0.0.1", "dongsi-sqxx"), localAddress: "127.0.0.5" });
        assert.match(elsewhere.data, /client 127\.0\.0\.5 is not a kiosk of venue dongsi-sqxx/, elsewhere.data);
      }
      await gws[0].close();
      for (let i = 0; i < 6; i++) {
        const r = await exchange(front, { bytes: "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", localAddress: "127.0.0.5" });
        assert.match(r.data, /^HTTP\/1\.1 503 /, `call ${i} with web-1 gone: ${r.data}`);
      }
    } finally {
      haproxy.kill("SIGTERM");
      await gws[1].close();
      await gws[0].close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
