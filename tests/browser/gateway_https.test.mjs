// The gateway serving browsers over HTTPS (--https_cert/--https_key): an
// in-process gateway with a certificate made here (openssl), checked with a
// client that trusts only that certificate; plain HTTP on the same port gets
// no page; the flags come in pairs.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { createGateway, parseKioskClients } from "../../services/web/testing.js";
import { rawRequest } from "./harness.mjs";

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../services/web/gateway/main.js");
let dir, cert, key;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-https-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
    "-keyout", `${dir}/web.key`, "-out", `${dir}/web.pem`], { stdio: "ignore" });
  cert = fs.readFileSync(`${dir}/web.pem`);
  key = fs.readFileSync(`${dir}/web.key`);
});
after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

function get(mod, options) {
  return new Promise((resolve, reject) => {
    mod.get(options, (res) => {
      let body = "";
      res.on("data", (c) => { body += c; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on("error", reject);
  });
}

describe("gateway over HTTPS", () => {
  test("pages and /healthz over TLS verified against the certificate; plain HTTP gets no page", async () => {
    const gw = createGateway({
      backends: { records: "127.0.0.1:1", catalog: "127.0.0.1:1", recommend: "127.0.0.1:1" }, tls: null,
      kioskTokens: new Map(), kioskClients: parseKioskClients(""), upstreamTimeoutMs: 2000, fontDir: "",
      https: { cert, key },
    });
    await new Promise((r) => gw.server.listen(0, "127.0.0.1", r));
    const port = gw.server.address().port;
    try {
      const page = await get(https, { host: "127.0.0.1", port, path: "/kiosk/?venue=x", ca: cert });
      assert.equal(page.status, 200);
      assert.match(page.body, /社区学习终端/);
      assert.match(page.headers["content-security-policy"], /default-src 'self'/);
      const hz = await get(https, { host: "127.0.0.1", port, path: "/healthz", ca: cert });
      assert.equal(hz.status, 503, "services down");
      // A client that does not trust the certificate is refused by its own TLS check.
      await assert.rejects(get(https, { host: "127.0.0.1", port, path: "/kiosk/", ca: [] }), /self[- ]signed|certificate/i);
      // Plain HTTP to the HTTPS port: no page (the TLS server answers 400 or hangs up).
      const plain = await get(http, { host: "127.0.0.1", port, path: "/kiosk/?venue=x" }).catch((e) => ({ error: e }));
      assert.ok(plain.error || plain.status === 400, `plain HTTP answered ${plain.status}`);
    } finally {
      await gw.close();
    }
  });

  test("over TLS too, an unparseable request target is 400 (or 404) and the gateway keeps serving", async () => {
    const gw = createGateway({
      backends: { records: "127.0.0.1:1", catalog: "127.0.0.1:1", recommend: "127.0.0.1:1" }, tls: null,
      kioskTokens: new Map(), kioskClients: parseKioskClients(""), upstreamTimeoutMs: 2000, fontDir: "",
      https: { cert, key },
    });
    await new Promise((r) => gw.server.listen(0, "127.0.0.1", r));
    const port = gw.server.address().port;
    const base = `https://127.0.0.1:${port}`;
    try {
      const head = `HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`;
      const bracket = await rawRequest(base, `GET //[ ${head}`, cert);
      assert.ok(bracket.status === 400 || bracket.status === 404, `GET //[ answered ${bracket.status}`);
      const badPort = await rawRequest(base, `GET http://gateway:99999/ ${head}`, cert);
      assert.equal(badPort.status, 400, badPort.body);
      assert.equal(JSON.parse(badPort.body).code, "invalid_argument");
      const noHost = await rawRequest(base, "POST /api/lifelong.v1.CourseCatalogService/GetCourse HTTP/1.0\r\n" +
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", cert);
      assert.equal(noHost.status, 400, noHost.body);
      const hz = await get(https, { host: "127.0.0.1", port, path: "/healthz", ca: cert });
      assert.equal(hz.status, 503, "services down, gateway up");
    } finally {
      await gw.close();
    }
  });

  test("--https_cert without --https_key (and the reverse) is a bad flag: exit 2 naming both", () => {
    for (const args of [[`--https_cert=${dir}/web.pem`], [`--https_key=${dir}/web.key`]]) {
      const r = spawnSync(process.execPath, [MAIN, "--port=0", ...args], { encoding: "utf8", timeout: 10000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--https_cert and --https_key/);
    }
    const r = spawnSync(process.execPath, [MAIN, "--port=0", `--https_cert=${dir}/none.pem`, `--https_key=${dir}/none.key`],
                        { encoding: "utf8", timeout: 10000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /--https_cert: cannot read/);
  });
});
