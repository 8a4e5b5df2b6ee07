// What one client, or all of them, may hold of the gateway (services/web/gateway/limits.js):
// connections in all and per client address (the PROXY header's address behind a
// balancer), slow headers and trickled bodies, and request-body bytes held. In-process
// gateways with their services down (or a service that never answers), small limits
// set through createGateway's options (main.js's flags): no stack is needed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { DEFAULT_LIMITS, createGateway, defaultSmallReserve, parseKioskClients } from "../../services/web/testing.js";
import { selfSignedCert } from "./harness.mjs";
import { learnerToken, startFakeStack } from "./fake_stack.mjs";

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../services/web/gateway/main.js");
const DOWN = { records: "127.0.0.1:1", catalog: "127.0.0.1:1", recommend: "127.0.0.1:1" };
const GET_COURSE = "/api/lifelong.v1.CourseCatalogService/GetCourse";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startGateway(extra) {
  const gw = createGateway({
    backends: DOWN, tls: null, kioskTokens: new Map(), kioskClients: parseKioskClients(""),
    upstreamTimeoutMs: 1000, fontDir: "", ...extra,
  });
  await new Promise((r) => gw.listener.listen(0, "127.0.0.1", r));
  return { gw, port: gw.listener.address().port };
}

// A raw keep-alive connection from `localAddress` (any 127/8 address reaches
// the loopback): request(text) resolves with the next response's head and
// body, or with null when the gateway closes the connection without one.
async function connect(port, localAddress = "127.0.0.1", prefix = "") {
  const sock = net.connect({ host: "127.0.0.1", port, localAddress });
  sock.setEncoding("latin1");
  let buf = "";
  let closed = false;
  let wake = () => {};
  sock.on("data", (d) => { buf += d; wake(); });
  sock.on("close", () => { closed = true; wake(); });
  sock.on("error", () => {});
  await new Promise((r) => { sock.once("connect", r); sock.once("close", r); });
  if (prefix) sock.write(prefix);
  const response = async (waitMs = 3000) => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = buf.slice(0, end);
        const status = +head.split(" ")[1];
        if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          // Chunked (/metrics): chunks up to the empty one.
          let at = end + 4;
          let body = "";
          for (;;) {
            const eol = buf.indexOf("\r\n", at);
            if (eol < 0) break;
            const size = parseInt(buf.slice(at, eol), 16);
            if (buf.length < eol + 2 + size + 2) break;
            body += buf.slice(eol + 2, eol + 2 + size);
            at = eol + 2 + size + 2;
            if (size === 0) {
              buf = buf.slice(at);
              return { status, head, body };
            }
          }
        } else {
          const len = +((/\r\ncontent-length: *(\d+)/i.exec(head) || [])[1] || 0);
          if (buf.length >= end + 4 + len) {
            const body = buf.slice(end + 4, end + 4 + len);
            buf = buf.slice(end + 4 + len);
            return { status, head, body };
          }
        }
      }
      if (closed || Date.now() >= deadline) return null;
      await new Promise((r) => { wake = r; setTimeout(r, 50); });
    }
  };
  return {
    sock, response,
    get closed() { return closed; },
    request: async (text, waitMs) => { if (!closed) sock.write(text); return response(waitMs); },
    close: () => sock.destroy(),
  };
}

const getHealth = "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n";
const getPage = "GET /kiosk/?venue=x HTTP/1.1\r\nHost: gw\r\n\r\n";
const post = (body, extraHead = "") =>
  `POST ${GET_COURSE} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n${extraHead}Content-Length: ${body.length}\r\n\r\n${body}`;

async function metric(port, re) {
  const c = await connect(port, "127.0.0.1");
  const r = await c.request("GET /metrics HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
  c.close();
  const m = re.exec(r ? r.body : "");
  return m ? +m[1] : 0;
}

async function waitFor(cond, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

// A "service" that accepts connections and never answers. close() destroys
// what it accepted (else the gateway's transport keeps its session a minute).
async function silentService() {
  const accepted = new Set();
  const server = net.createServer((s) => { accepted.add(s); s.on("error", () => {}); });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const addr = `127.0.0.1:${server.address().port}`;
  return {
    accepted,
    backends: { records: addr, catalog: addr, recommend: addr },
    close: () => { for (const s of accepted) s.destroy(); server.close(); },
  };
}

describe("gateway limits: connections", () => {
  test("the defaults", () => {
    assert.deepEqual({ ...DEFAULT_LIMITS }, {
      maxConnections: 8192, maxConnectionsPerClient: 256, requestTimeoutMs: 30000, headersTimeoutMs: 10000,
      inactivityTimeoutMs: 60000, maxHeldRequestBytes: 256 << 20, maxHeldRequestBytesPerClient: 64 << 20,
      smallRequestBytesReserve: 32 << 20 });
  });

  test("a client over its connection cap is closed unanswered; its other connections and other clients go on", async () => {
    const { gw, port } = await startGateway({ limits: { maxConnectionsPerClient: 3 } });
    try {
      const mine = [];
      for (let i = 0; i < 3; i++) {
        const c = await connect(port, "127.0.0.5");
        assert.equal((await c.request(getPage))?.status, 200, `connection ${i}`);
        mine.push(c);
      }
      const fourth = await connect(port, "127.0.0.5");
      assert.equal(await fourth.request(getPage, 1500), null, "the 4th connection of 127.0.0.5 was answered");
      assert.ok(fourth.closed);
      const other = await connect(port, "127.0.0.6");
      assert.equal((await other.request(getPage))?.status, 200, "another address is refused too");
      for (const [i, c] of mine.entries()) assert.equal((await c.request(getPage))?.status, 200, `kept connection ${i}`);
      // One closed: the client may open another.
      mine[0].close();
      assert.ok(await waitFor(async () => {
        const again = await connect(port, "127.0.0.5");
        const r = await again.request(getPage, 500);
        again.close();
        return r?.status === 200;
      }), "a connection freed by the client is not given back");
      assert.match(await (await connect(port)).request("GET /metrics HTTP/1.1\r\nHost: gw\r\n\r\n").then((r) => r.body),
                   /lifelong_web_refused_total\{reason="client_connections"\} [1-9]/);
      for (const c of [...mine, other]) c.close();
    } finally {
      await gw.close();
    }
  });

  test("behind a balancer the cap counts the PROXY header's client address", async () => {
    const { gw, port } = await startGateway({ proxyProtocolFrom: new Set(["127.0.0.1"]), limits: { maxConnectionsPerClient: 2 } });
    const from = (addr) => `PROXY TCP4 ${addr} 127.0.0.1 5555 8090\r\n`;
    try {
      const held = [];
      for (let i = 0; i < 2; i++) {
        const c = await connect(port, "127.0.0.1", from("10.0.0.7"));
        assert.equal((await c.request(getHealth))?.status, 503, `connection ${i} (services down)`);
        held.push(c);
      }
      const third = await connect(port, "127.0.0.1", from("10.0.0.7"));
      assert.equal(await third.request(getHealth, 1500), null, "a 3rd connection of 10.0.0.7 was answered");
      const other = await connect(port, "127.0.0.1", from("10.0.0.8"));
      assert.equal((await other.request(getHealth))?.status, 503, "10.0.0.8 was refused too");
      for (const c of held) assert.equal((await c.request(getHealth))?.status, 503);
      for (const c of [...held, other]) c.close();
    } finally {
      await gw.close();
    }
  });

  test("behind a balancer with TLS a connection counts against its client's cap before its handshake", async () => {
    // Handshakes not yet done (each up to the header timeout) were counted
    // only in all: one client opening them fast could fill every connection.
    const { gw, port } = await startGateway({
      proxyProtocolFrom: new Set(["127.0.0.1"]), proxyHeaderTimeoutMs: 5000, https: selfSignedCert(),
      limits: { maxConnectionsPerClient: 2 } });
    const from = (addr) => `PROXY TCP4 ${addr} 127.0.0.1 5555 8090\r\n`;
    try {
      const pending = [];  // header sent, no handshake begun
      for (let i = 0; i < 2; i++) pending.push(await connect(port, "127.0.0.1", from("10.0.0.7")));
      const third = await connect(port, "127.0.0.1", from("10.0.0.7"));
      assert.ok(await waitFor(() => third.closed, 1500), "a 3rd handshake of 10.0.0.7 was held");
      for (const c of pending) assert.equal(c.closed, false, "a pending handshake within the cap was closed");
      // Another client still gets through, handshake and all.
      const other = await new Promise((resolve) => {
        const raw = net.connect({ host: "127.0.0.1", port }, () => {
          raw.write(from("10.0.0.8"));
          const t = tls.connect({ socket: raw, rejectUnauthorized: false }, () => resolve(true));
          t.on("error", () => resolve(false));
        });
        raw.on("error", () => resolve(false));
      });
      assert.equal(other, true, "10.0.0.8's handshake failed");
      // Freed when they close: 10.0.0.7 gets its places back.
      for (const c of pending) c.close();
      assert.ok(await waitFor(async () => {
        const c = await connect(port, "127.0.0.1", from("10.0.0.7"));
        await sleep(200);
        const open = !c.closed;
        c.close();
        return open;
      }), "10.0.0.7's places were not given back");
    } finally {
      await gw.close();
    }
  });

  test("over the cap on all connections a new one is closed at once; the open ones go on", async () => {
    const { gw, port } = await startGateway({ limits: { maxConnections: 4 } });
    try {
      const open = [];
      for (let i = 0; i < 4; i++) {
        const c = await connect(port, `127.0.0.${10 + i}`);
        assert.equal((await c.request(getPage))?.status, 200);
        open.push(c);
      }
      const fifth = await connect(port, "127.0.0.20");
      assert.equal(await fifth.request(getPage, 1500), null, "the 5th connection was answered");
      for (const c of open) assert.equal((await c.request(getPage))?.status, 200);
      const m = await open[0].request("GET /metrics HTTP/1.1\r\nHost: gw\r\n\r\n");
      assert.match(m.body, /lifelong_web_refused_total\{reason="max_connections"\} [1-9]/);
      assert.match(m.body, /lifelong_web_connections_open 4/);
      for (const c of open) c.close();
    } finally {
      await gw.close();
    }
  });
});

describe("gateway limits: slow clients", () => {
  test("a trickled body is cut at the request timeout (408, closed)", async () => {
    const { gw, port } = await startGateway({ limits: { requestTimeoutMs: 1000, headersTimeoutMs: 500 } });
    try {
      const body = JSON.stringify({ id: "c00001" }).padEnd(200, " ");
      const c = await connect(port, "127.0.0.5");
      const t0 = Date.now();
      c.sock.write(`POST ${GET_COURSE} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      let sent = 0;
      const trickle = setInterval(() => { if (!c.closed && sent < body.length) c.sock.write(body[sent++]); }, 100);
      const r = await c.response(6000);
      clearInterval(trickle);
      const ms = Date.now() - t0;
      assert.ok(r === null || r.status === 408, `answered ${r && r.status}`);
      assert.ok(await waitFor(() => c.closed, 1000), "the trickling connection is still open");
      assert.ok(ms >= 900 && ms < 3000, `cut after ${ms} ms, ${sent} of ${body.length} bytes`);
      assert.ok(sent < body.length);

    } finally {
      await gw.close();
    }
  });

  test("slow headers are cut at the headers timeout, well before the request timeout", async () => {
    const { gw, port } = await startGateway({ limits: { requestTimeoutMs: 5000, headersTimeoutMs: 500 } });
    try {
      const h = await connect(port, "127.0.0.6");
      const h0 = Date.now();
      h.sock.write("GET /healthz HTTP/1.1\r\n");
      const slow = setInterval(() => { if (!h.closed) h.sock.write("X-Slow: 1\r\n"); }, 100);
      const hr = await h.response(6000);
      clearInterval(slow);
      assert.ok(hr === null || hr.status === 408, `answered ${hr && hr.status}`);
      assert.ok(Date.now() - h0 < 2500, `slow headers held for ${Date.now() - h0} ms (request timeout 5 s)`);
      assert.ok(await metric(port, /lifelong_web_refused_total\{reason="request_timeout"\} (\d+)/) >= 1);
    } finally {
      await gw.close();
    }
  });

  test("a call whose service is slow is answered at its upstream deadline, not cut at the request timeout", async () => {
    const silent = await silentService();
    const { gw, port } = await startGateway({
      backends: silent.backends, upstreamTimeoutMs: 2000,
      limits: { requestTimeoutMs: 500, headersTimeoutMs: 250 } });
    try {
      const c = await connect(port, "127.0.0.5");
      const t0 = Date.now();
      const r = await c.request(post(JSON.stringify({ id: "c00001" })), 6000);
      assert.ok(r, "the call was cut without an answer");
      assert.match(JSON.parse(r.body).code, /deadline_exceeded|unavailable/, r.body);
      assert.ok(Date.now() - t0 >= 1800, `answered after ${Date.now() - t0} ms`);
      c.close();
    } finally {
      await gw.close();
      silent.close();
    }
  });
});

// A directory holding one file of `bytes` zeros (a font's stand-in, far
// larger than the loopback's socket buffers): {dir, name, close()}.
function bigFile(bytes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gw-fonts-"));
  fs.writeFileSync(path.join(dir, "big.ttc"), Buffer.alloc(bytes));
  return { dir, close: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// GET `target` on a raw connection from `localAddress`, read as fast as it
// comes unless the caller pauses `sock`: resolves {sock, bytes(), closed()}.
async function fetchRaw(port, localAddress, target) {
  const sock = net.connect({ host: "127.0.0.1", port, localAddress });
  let bytes = 0;
  let closed = false;
  sock.on("data", (d) => { bytes += d.length; });
  sock.on("close", () => { closed = true; });
  sock.on("error", () => {});
  await new Promise((r) => { sock.once("connect", r); sock.once("close", r); });
  sock.write(`GET ${target} HTTP/1.1\r\nHost: gw\r\n\r\n`);
  return { sock, bytes: () => bytes, closed: () => closed };
}

describe("gateway limits: connections that make no progress", () => {
  test("a client that stops reading its answer is cut at the inactivity timeout and its place is given back", async () => {
    const size = 48 << 20;
    const big = bigFile(size);
    const { gw, port } = await startGateway({
      fontDir: big.dir, limits: { maxConnectionsPerClient: 1, inactivityTimeoutMs: 1000 } });
    try {
      const stuck = await fetchRaw(port, "127.0.0.5", "/fonts/big.ttc");
      stuck.sock.pause();  // reads nothing more: the buffers fill, the gateway's writes stall
      const t0 = Date.now();
      // Its one place is taken: another connection from its address is refused...
      const early = await connect(port, "127.0.0.5");
      assert.equal(await early.request(getPage, 300), null, "a second connection of 127.0.0.5 was answered");
      // ...until the stalled one is closed, within the timeout (and a check) of stalling.
      assert.ok(await waitFor(async () => {
        const again = await connect(port, "127.0.0.5");
        const r = await again.request(getPage, 300);
        again.close();
        return r?.status === 200;
      }, 5000), "the stalled connection still holds its place");
      const ms = Date.now() - t0;
      assert.ok(ms >= 700, `cut after ${ms} ms (inactivity timeout 1 s)`);
      assert.ok(await metric(port, /lifelong_web_refused_total\{reason="inactivity_timeout"\} (\d+)/) >= 1);
      stuck.sock.resume();
      assert.ok(await waitFor(() => stuck.closed(), 5000), "the stalled connection is still open");
      assert.ok(stuck.bytes() < size, `${stuck.bytes()} bytes: the whole file came`);
    } finally {
      await gw.close();
      big.close();
    }
  });

  test("a client reading slowly but steadily gets the whole file, however long it takes", { timeout: 60_000 }, async () => {
    const size = 12 << 20;
    const big = bigFile(size);
    const { gw, port } = await startGateway({ fontDir: big.dir, limits: { inactivityTimeoutMs: 1000 } });
    try {
      const t0 = Date.now();
      const slow = await fetchRaw(port, "127.0.0.5", "/fonts/big.ttc");
      // At most 64 KiB (one read) every 25 ms: about 2.5 MB/s.
      slow.sock.on("data", () => { slow.sock.pause(); setTimeout(() => slow.sock.resume(), 25); });
      assert.ok(await waitFor(() => slow.bytes() > size, 40_000), `only ${slow.bytes()} bytes came`);
      assert.ok(Date.now() - t0 > 2500, `read in ${Date.now() - t0} ms: not slower than the timeout`);
      assert.equal(slow.closed(), false);
      slow.sock.destroy();
    } finally {
      await gw.close();
      big.close();
    }
  });

  test("a call waiting on its service is the upstream deadline's, not cut by the inactivity timeout", async () => {
    const silent = await silentService();
    const { gw, port } = await startGateway({
      backends: silent.backends, upstreamTimeoutMs: 2000, limits: { inactivityTimeoutMs: 500 } });
    try {
      const c = await connect(port, "127.0.0.5");
      const t0 = Date.now();
      const r = await c.request(post(JSON.stringify({ id: "c00001" })), 6000);
      assert.ok(r, `the call was cut without an answer after ${Date.now() - t0} ms`);
      assert.match(JSON.parse(r.body).code, /deadline_exceeded|unavailable/, r.body);
      assert.ok(Date.now() - t0 >= 1800, `answered after ${Date.now() - t0} ms`);
      c.close();
    } finally {
      await gw.close();
      silent.close();
    }
  });

  test("an export stream whose service pauses between messages is not cut by the inactivity timeout", async () => {
    const stack = await startFakeStack({ limits: { inactivityTimeoutMs: 500 } });
    try {
      stack.answers.exportLearner = async function* () {
        for (let i = 0; i < 3; i++) {
          yield { json: new TextEncoder().encode(`{"n":${i}}`) };
          await sleep(1200);
        }
      };
      const env = new Uint8Array(7);
      new DataView(env.buffer).setUint32(1, 2);
      env.set(new TextEncoder().encode("{}"), 5);
      const res = await fetch(`${stack.url}/api/lifelong.v1.LearningRecordService/ExportLearner`, {
        method: "POST", body: env,
        headers: { "content-type": "application/connect+json", authorization: `Bearer ${learnerToken("u000042")}` },
      });
      const body = Buffer.from(await res.arrayBuffer()).toString("latin1");
      assert.equal((body.match(/"json":/g) || []).length, 3, JSON.stringify(body));
      assert.doesNotMatch(body, /"error"/, body);
    } finally {
      await stack.close();
    }
  });
});

describe("gateway limits: request-body bytes held", () => {
  test("past the budget in all a call is refused 503 resource_exhausted with Retry-After; freed bytes are given back", async () => {
    const { gw, port } = await startGateway({ limits: { maxHeldRequestBytes: 100_000, maxHeldRequestBytesPerClient: 1 << 20,
                                                             smallRequestBytesReserve: 10_000 } });
    try {
      // 80,000 bytes announced, 10 sent: the adapter has allocated the 80,000.
      const holder = await connect(port, "127.0.0.5");
      holder.sock.write(`POST ${GET_COURSE} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 80000\r\n\r\n{"id":"c0`);
      await sleep(300);
      const refused = await connect(port, "127.0.0.6");
      const r = await refused.request(post(JSON.stringify({ id: "c00001" }).padEnd(30_000, " ")));
      assert.equal(r?.status, 503, r && r.head);
      assert.equal(JSON.parse(r.body).code, "resource_exhausted", r.body);
      assert.match(r.head, /\r\nretry-after: 1/i);
      assert.equal(await metric(port, /lifelong_web_request_bytes_held (\d+)/), 80000);
      assert.ok(await waitFor(() => refused.closed, 2000), "the refused connection stays open");
      // A small call still fits.
      const small = await connect(port, "127.0.0.6");
      assert.equal(JSON.parse((await small.request(post(JSON.stringify({ id: "c00001" })))).body).code, "unavailable");
      // The holder gone, its bytes are given back and the large call passes.
      holder.close();
      assert.ok(await waitFor(async () => (await metric(port, /lifelong_web_request_bytes_held (\d+)/)) === 0), "not given back");
      const again = await connect(port, "127.0.0.6");
      const ok = await again.request(post(JSON.stringify({ id: "c00001" }).padEnd(30_000, " ")));
      assert.equal(JSON.parse(ok.body).code, "unavailable", ok.body);  // reached the (stopped) service
      assert.ok(await metric(port, /lifelong_web_refused_total\{reason="request_bytes"\} (\d+)/) >= 1);
      for (const c of [small, again]) c.close();
    } finally {
      await gw.close();
    }
  });

  test("a chunked body is counted as it arrives and refused once past the budget", async () => {
    const { gw, port } = await startGateway({ limits: { maxHeldRequestBytes: 100_000, smallRequestBytesReserve: 10_000 } });
    try {
      const c = await connect(port, "127.0.0.5");
      const chunk = (s) => `${s.length.toString(16)}\r\n${s}\r\n`;
      c.sock.write(`POST ${GET_COURSE} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
      c.sock.write(chunk(`{"id":"c00001"${" ".repeat(60_000)}`));
      await sleep(300);
      c.sock.write(chunk(" ".repeat(60_000)));
      const r = await c.response();
      assert.equal(r?.status, 503, r && r.head);
      assert.equal(JSON.parse(r.body).code, "resource_exhausted", r.body);
      assert.match(r.head, /\r\nretry-after: 1/i);
      assert.ok(await waitFor(() => c.closed, 2000), "the refused connection stays open");
      assert.ok(await waitFor(async () => (await metric(port, /lifelong_web_request_bytes_held (\d+)/)) === 0), "not given back");
      // The gateway goes on.
      const next = await connect(port, "127.0.0.5");
      assert.equal(JSON.parse((await next.request(post(JSON.stringify({ id: "c00001" })))).body).code, "unavailable");
      next.close();
    } finally {
      await gw.close();
    }
  });

  test("a pipelined request's bytes are given back when the connection closes before its answer", async () => {
    // Node queues the answers of pipelined requests; when the connection
    // goes first, a queued answer never closes: its bytes were held for good
    // (16 such connections filled an address's share, 64 the whole budget).
    const silent = await silentService();
    const { gw, port } = await startGateway({
      backends: silent.backends, upstreamTimeoutMs: 5000,
      limits: { maxHeldRequestBytes: 1 << 20, smallRequestBytesReserve: 64 << 10 } });
    try {
      for (let i = 0; i < 3; i++) {
        const c = await connect(port, "127.0.0.5");
        // The first call waits for its (silent) service; the second queues behind it.
        c.sock.write(post(JSON.stringify({ id: "c00001" })) +
                     `POST ${GET_COURSE} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 80000\r\n\r\n{`);
        await sleep(200);
        c.close();
      }
      assert.ok(await waitFor(async () => (await metric(port, /lifelong_web_request_bytes_held (\d+)/)) === 0),
                `still held: ${await metric(port, /lifelong_web_request_bytes_held (\d+)/)} bytes`);
    } finally {
      await gw.close();
      silent.close();
    }
  });

  test("a body refused midway never reaches the service, not even its end", async () => {
    // The refused body's end used to pass: the adapter then made the call
    // with a hole in the body (a write could land, and its retry land again).
    const silent = await silentService();
    const { gw, port } = await startGateway({
      backends: silent.backends, limits: { maxHeldRequestBytes: 100_000, smallRequestBytesReserve: 10_000 } });
    try {
      const c = await connect(port, "127.0.0.5");
      const chunk = (t) => `${t.length.toString(16)}\r\n${t}\r\n`;
      c.sock.write(`POST ${GET_COURSE} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
                   chunk(`{"id":"c00001"${" ".repeat(60_000)}`) + chunk(" ".repeat(60_000)) + chunk(" }") + "0\r\n\r\n");
      const r = await c.response();
      assert.equal(r?.status, 503, r && r.head);
      await sleep(500);
      assert.equal(silent.accepted.size, 0, "the refused call reached the service");
      c.close();
    } finally {
      await gw.close();
      silent.close();
    }
  });

  test("one client address may hold only its share: another address still gets through", async () => {
    const { gw, port } = await startGateway({
      limits: { maxHeldRequestBytes: 1 << 20, maxHeldRequestBytesPerClient: 50_000, smallRequestBytesReserve: 64 << 10 } });
    try {
      const holder = await connect(port, "127.0.0.5");
      holder.sock.write(`POST ${GET_COURSE} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 40000\r\n\r\n{`);
      await sleep(300);
      const same = await connect(port, "127.0.0.5");
      const r = await same.request(post(JSON.stringify({ id: "c00001" }).padEnd(20_000, " ")));
      assert.equal(JSON.parse(r.body).code, "resource_exhausted", r.body);
      const other = await connect(port, "127.0.0.6");
      const ok = await other.request(post(JSON.stringify({ id: "c00001" }).padEnd(20_000, " ")));
      assert.equal(JSON.parse(ok.body).code, "unavailable", ok.body);
      for (const c of [holder, same, other]) c.close();
    } finally {
      await gw.close();
    }
  });
});

// The request-body bytes of large bodies (over 64 KiB, limits.js's
// SMALL_REQUEST_BYTES) may not take the reserve kept for small ones.
describe("gateway limits: the small bodies' reserve", () => {
  const HELD = /lifelong_web_request_bytes_held (\d+)/;
  const HELD_LARGE = /lifelong_web_request_bytes_held_large (\d+)/;
  const REFUSED = /lifelong_web_refused_total\{reason="request_bytes"\} (\d+)/;
  const call = (pad = 0) => post(JSON.stringify({ id: "c00001" }).padEnd(pad, " "));

  // A body of `bytes` announced from `address`, its first byte sent: held
  // (no answer until the rest comes) unless refused (503 at once).
  async function announce(port, address, bytes) {
    const c = await connect(port, address);
    c.sock.write(`POST ${GET_COURSE} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n{`);
    return c;
  }

  test("with large bodies trickled from a few addresses filling their part, a small call from another still gets through", async () => {
    // 1 MiB in all, 128 KiB of it kept for small bodies: three 256 KiB
    // bodies fill the large bodies' part (768 KiB of 896), a fourth is
    // refused. Without the reserve the four filled the whole budget and any
    // call from anyone, however small, was refused until they went.
    const { gw, port } = await startGateway({
      limits: { maxHeldRequestBytes: 1 << 20, maxHeldRequestBytesPerClient: 512 << 10, smallRequestBytesReserve: 128 << 10 } });
    const holders = [];
    const trickle = setInterval(() => { for (const h of holders) if (!h.closed) h.sock.write(" "); }, 100);
    try {
      for (const address of ["127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8"]) {
        holders.push(await announce(port, address, 256 << 10));
        await sleep(100);
      }
      await sleep(300);
      // A kiosk's call (a few hundred bytes, or up to 64 KiB) from another address: reaches the (stopped) service.
      const kiosk = await connect(port, "127.0.0.9");
      for (const pad of [0, 2000, 64 << 10]) {
        const r = await kiosk.request(call(pad));
        assert.equal(r && JSON.parse(r.body).code, "unavailable",
                     `a ${pad}-byte call was refused: ${r && r.head}`);
      }
      kiosk.close();
      // The fourth large body was the one refused, the usual way.
      const answers = await Promise.all(holders.map((h) => h.response(300)));
      assert.deepEqual(answers.map((a) => a?.status ?? "held"), ["held", "held", "held", 503]);
      assert.equal(JSON.parse(answers[3].body).code, "resource_exhausted", answers[3].body);
      assert.match(answers[3].head, /\r\nretry-after: 1/i);
      assert.ok(await waitFor(() => holders[3].closed, 2000), "the refused connection stays open");
      // A large body from the kiosk's address is refused too: the part is full though the total is not.
      const large = await connect(port, "127.0.0.9");
      const lr = await large.request(call(200_000));
      assert.equal(lr?.status, 503, lr && lr.head);
      assert.equal(JSON.parse(lr.body).code, "resource_exhausted", lr.body);
      large.close();
      assert.equal(await metric(port, HELD), 3 * (256 << 10));
      assert.equal(await metric(port, HELD_LARGE), 3 * (256 << 10));
      assert.ok(await metric(port, REFUSED) >= 2);
      // The holders gone, their bytes are given back: a large body passes.
      for (const h of holders) h.close();
      assert.ok(await waitFor(async () => (await metric(port, HELD)) === 0), "not given back");
      assert.equal(await metric(port, HELD_LARGE), 0);
      const again = await connect(port, "127.0.0.9");
      assert.equal(JSON.parse((await again.request(call(200_000))).body).code, "unavailable");
      again.close();
    } finally {
      clearInterval(trickle);
      for (const h of holders) h.close();
      await gw.close();
    }
  });

  test("small bodies may use the whole budget, large bodies' part included, but not pass it", async () => {
    const { gw, port } = await startGateway({ limits: { maxHeldRequestBytes: 200_000, smallRequestBytesReserve: 100_000 } });
    const holders = [];
    try {
      // Three 60,000-byte bodies (small) from three addresses: 180,000, past the reserve, held.
      for (const address of ["127.0.0.5", "127.0.0.6", "127.0.0.7"]) {
        holders.push(await announce(port, address, 60_000));
        await sleep(100);
      }
      await sleep(200);
      for (const [i, h] of holders.entries()) assert.equal(await h.response(100), null, `small body ${i} was answered`);
      assert.equal(await metric(port, HELD), 180_000);
      assert.equal(await metric(port, HELD_LARGE), 0);
      // A fourth small body would pass the total: refused.
      const fourth = await connect(port, "127.0.0.8");
      const r = await fourth.request(call(60_000));
      assert.equal(r?.status, 503, r && r.head);
      assert.equal(JSON.parse(r.body).code, "resource_exhausted", r.body);
      assert.match(r.head, /\r\nretry-after: 1/i);
      // So is a large one, though no large body is held: the total is full.
      const large = await connect(port, "127.0.0.9");
      const lr = await large.request(call(70_000));
      assert.equal(lr?.status, 503, lr && lr.head);
      assert.equal(await metric(port, HELD), 180_000);
      // One holder gone: a small call fits again.
      holders[0].close();
      assert.ok(await waitFor(async () => (await metric(port, HELD)) === 120_000), "not given back");
      const next = await connect(port, "127.0.0.8");
      assert.equal(JSON.parse((await next.request(call(60_000))).body).code, "unavailable");
      for (const c of [fourth, large, next]) c.close();
    } finally {
      for (const h of holders) h.close();
      await gw.close();
    }
  });

  test("a chunked body counts as large once past 64 KiB, and is refused when the large bodies' part is full", async () => {
    // 300,000 in all, 100,000 kept: large bodies together at most 200,000.
    const { gw, port } = await startGateway({ limits: { maxHeldRequestBytes: 300_000, smallRequestBytesReserve: 100_000 } });
    const chunk = (t) => `${t.length.toString(16)}\r\n${t}\r\n`;
    const head = `POST ${GET_COURSE} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    try {
      // Alone, it passes: small at 60,014 bytes, large at 70,014.
      const c = await connect(port, "127.0.0.6");
      c.sock.write(head + chunk(`{"id":"c00001"${" ".repeat(60_000)}`));
      assert.ok(await waitFor(async () => (await metric(port, HELD)) === 60_014), "the first chunk is not counted");
      assert.equal(await metric(port, HELD_LARGE), 0);
      c.sock.write(chunk(" ".repeat(10_000)));
      assert.ok(await waitFor(async () => (await metric(port, HELD_LARGE)) === 70_014), "not counted as large");
      const ok = await c.request(chunk("}") + "0\r\n\r\n");
      assert.equal(JSON.parse(ok.body).code, "unavailable", ok.body);
      assert.ok(await waitFor(async () => (await metric(port, HELD)) === 0), "not given back");
      c.close();
      // With 150,000 of large bodies held, the same body is refused when it grows past 64 KiB.
      const holder = await announce(port, "127.0.0.5", 150_000);
      await sleep(200);
      const d = await connect(port, "127.0.0.6");
      d.sock.write(head + chunk(`{"id":"c00001"${" ".repeat(60_000)}`));
      assert.ok(await waitFor(async () => (await metric(port, HELD)) === 210_014), "the first chunk is not counted");
      d.sock.write(chunk(" ".repeat(10_000)));
      const r = await d.response();
      assert.equal(r?.status, 503, r && r.head);
      assert.equal(JSON.parse(r.body).code, "resource_exhausted", r.body);
      assert.ok(await waitFor(async () => (await metric(port, HELD)) === 150_000), "the refused body's bytes are not given back");
      assert.equal(await metric(port, HELD_LARGE), 150_000);
      // A small call still fits beside them.
      const small = await connect(port, "127.0.0.7");
      assert.equal(JSON.parse((await small.request(call(2000))).body).code, "unavailable");
      for (const x of [holder, d, small]) x.close();
    } finally {
      await gw.close();
    }
  });
});

describe("gateway limits: flags", () => {
  test("bad limit and kiosk-client flags exit 2 naming the flag", () => {
    for (const [args, why] of [
      [["--max_connections=0"], /--max_connections: must be a positive integer/],
      [["--max_connections_per_client=x"], /--max_connections_per_client/],
      [["--request_timeout_ms=-1"], /--request_timeout_ms/],
      [["--headers_timeout_ms=40000"], /--headers_timeout_ms: must not exceed --request_timeout_ms/],
      [["--inactivity_timeout_ms=0"], /--inactivity_timeout_ms: must be a positive integer/],
      [["--max_held_request_bytes="], /--max_held_request_bytes/],
      [["--small_request_bytes_reserve=0"], /--small_request_bytes_reserve: must be a positive integer/],
      [["--small_request_bytes_reserve=268435456"], /--small_request_bytes_reserve: must be less than --max_held_request_bytes/],
      [["--max_held_request_bytes=1048576", "--small_request_bytes_reserve=1048576"],
        /--small_request_bytes_reserve: must be less than --max_held_request_bytes/],
      [["--kiosk_clients=127.0.0.1,::1"], /--kiosk_clients: .*127\.0\.0\.1.* names no venue/],
      [["--kiosk_clients=beixinqiao-sqxx=10.0.0.0/40"], /--kiosk_clients: .*prefix must be 0\.\.32/],
    ]) {
      const r = spawnSync(process.execPath, [MAIN, "--port=0", ...args], { encoding: "utf8", timeout: 10000 });
      assert.equal(r.status, 2, `${args}: ${r.stderr}`);
      assert.match(r.stderr, why, args.join(" "));
    }
  });

  test("a total set below the default reserve, without a reserve, keeps an eighth of it (an upgrade keeps working)", () => {
    assert.equal(defaultSmallReserve(256 << 20), 32 << 20);
    assert.equal(defaultSmallReserve(1 << 20), 128 << 10);
    const gw = createGateway({
      backends: DOWN, tls: null, kioskTokens: new Map(), kioskClients: parseKioskClients(""),
      limits: { maxHeldRequestBytes: 1 << 20 },
    });
    assert.ok(gw.server, "created, not refused");
    const r = spawnSync(process.execPath, [MAIN, "--port=0", "--max_held_request_bytes=1048576", "--bad_flag_to_stop=1"],
                        { encoding: "utf8", timeout: 10000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /unknown or malformed flag: --bad_flag_to_stop/, "the reserve passed its checks first");
  });

  test("a small bodies' reserve not under the total is refused by createGateway too", () => {
    for (const limits of [{ maxHeldRequestBytes: 1000, smallRequestBytesReserve: 1000 }]) {
      assert.throws(() => createGateway({
        backends: DOWN, tls: null, kioskTokens: new Map(), kioskClients: parseKioskClients(""), limits,
      }), RangeError, JSON.stringify(limits));
    }
  });
});
