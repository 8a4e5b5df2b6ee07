// Kiosk tokens are followed (services/web/gateway/kiosk_tokens.js): ops/stack.sh's
// token refresher re-mints each <venue>.token of --kiosk_token_dir every day (each
// valid 30 days), and a running gateway sends the new token. The gateway itself
// (gateway/main.js, a child process) in front of a fake gRPC service that records
// the authorization each call carries: no stack is needed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.join(HERE, "../../services/web/gateway/main.js");
const KIOSK_TOKENS = path.join(HERE, "../../services/web/gateway/kiosk_tokens.js");
const GET_COURSE = "/api/lifelong.v1.CourseCatalogService/GetCourse";
const VENUE = "dongsi-sqxx";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const jwtOf = (claims) => `h.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.s`;
const kioskToken = (n) => jwtOf({ role: "kiosk", sub: `kiosk-${VENUE}`, venue: VENUE, jti: `mint-${n}` });

// As the token refresher writes: a new file renamed over the old one.
function replace(file, text) {
  fs.writeFileSync(`${file}.new`, text, { mode: 0o600 });
  fs.renameSync(`${file}.new`, file);
}

// A gRPC service (h2c) that answers every call NOT_FOUND and keeps each call's authorization.
async function fakeService() {
  const seen = [];
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    seen.push(headers.authorization);
    stream.on("data", () => {});
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "no such course" },
                     { endStream: true });
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { seen, port: server.address().port, close: () => server.close() };
}

async function startGateway(dir, servicePort) {
  const addr = `127.0.0.1:${servicePort}`;
  const out = [];
  const child = spawn(process.execPath, [MAIN, "--port=0", `--port_file=${dir}/port`, `--records=${addr}`,
    `--catalog=${addr}`, `--recommend=${addr}`, `--kiosk_token_dir=${dir}/kiosks`,
    `--kiosk_clients=${VENUE}=127.0.0.1`, "--kiosk_hosts=127.0.0.1", "--font_dir="], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d) => out.push(String(d)));
  child.stderr.on("data", (d) => out.push(String(d)));
  for (let i = 0; i < 100 && !fs.existsSync(`${dir}/port`); i++) await sleep(100);
  assert.ok(fs.existsSync(`${dir}/port`), `the gateway did not start: ${out.join("")}`);
  await sleep(50);  // the port file is written whole, but give it a moment
  return { port: +fs.readFileSync(`${dir}/port`, "utf8").trim(), child, log: () => out.join("") };
}

async function kioskCall(port) {
  return fetch(`http://127.0.0.1:${port}${GET_COURSE}`, {
    method: "POST", headers: { "content-type": "application/json", "x-lifelong-kiosk": VENUE }, body: '{"id":"c1"}',
  });
}

describe("kiosk tokens re-minted while the gateway runs", () => {
  test("a kiosk's calls carry the token of the file as it is now", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiosk-tokens-"));
    fs.mkdirSync(`${dir}/kiosks`, { mode: 0o700 });
    replace(`${dir}/kiosks/${VENUE}.token`, `${kioskToken(1)}\n`);
    const service = await fakeService();
    const gw = await startGateway(dir, service.port);
    try {
      await kioskCall(gw.port);
      assert.equal(service.seen.at(-1), `Bearer ${kioskToken(1)}`, gw.log());
      // Re-minted (the refresher's daily run): within the gateway's check interval (2 s).
      replace(`${dir}/kiosks/${VENUE}.token`, `${kioskToken(2)}\n`);
      let sent;
      for (let i = 0; i < 40; i++) {
        await kioskCall(gw.port);
        sent = service.seen.at(-1);
        if (sent === `Bearer ${kioskToken(2)}`) break;
        await sleep(150);
      }
      assert.equal(sent, `Bearer ${kioskToken(2)}`, `the gateway still sends the token it read at start\n${gw.log()}`);
      assert.match(gw.log(), /"event":"kiosk_token_reloaded"/);
      assert.doesNotMatch(gw.log(), /mint-2/, "tokens are never logged");
      // A failed mint that left the file empty: the token held is kept.
      replace(`${dir}/kiosks/${VENUE}.token`, "");
      await sleep(2200);
      await kioskCall(gw.port);
      assert.equal(service.seen.at(-1), `Bearer ${kioskToken(2)}`);
      assert.match(gw.log(), /"event":"kiosk_token_reload_failed"/);
    } finally {
      gw.child.kill("SIGTERM");
      service.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("KioskTokenDir: changed, empty, vanished and new files, at most one look per interval", async () => {
    const { KioskTokenDir } = await import(KIOSK_TOKENS);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kiosk-dir-"));
    try {
      replace(`${dir}/a-venue.token`, "token-a1\n");
      fs.writeFileSync(`${dir}/notes.txt`, "not a token");
      let now = 1000;
      const lines = [];
      const tokens = new KioskTokenDir(dir, { checkMs: 2000, now: () => now, log: (l) => lines.push(l) });
      assert.deepEqual([...tokens.keys()], ["a-venue"]);
      replace(`${dir}/a-venue.token`, "token-a2");
      now += 1999;
      assert.equal(tokens.get("a-venue"), "token-a1", "not looked at before the interval");
      now += 1;
      assert.equal(tokens.get("a-venue"), "token-a2");
      // Empty, then gone: the token held stays (one warning each).
      replace(`${dir}/a-venue.token`, " \n");
      now += 2000;
      assert.equal(tokens.get("a-venue"), "token-a2");
      now += 2000;
      assert.equal(tokens.get("a-venue"), "token-a2");
      fs.rmSync(`${dir}/a-venue.token`);
      now += 2000;
      assert.equal(tokens.get("a-venue"), "token-a2");
      assert.equal(lines.filter((l) => l.event === "kiosk_token_reload_failed").length, 2, JSON.stringify(lines));
      // A new venue's file, and the old one back.
      replace(`${dir}/b-venue.token`, "token-b1");
      replace(`${dir}/a-venue.token`, "token-a3");
      now += 2000;
      assert.equal(tokens.size, 2);
      assert.equal(tokens.get("b-venue"), "token-b1");
      assert.equal(tokens.get("a-venue"), "token-a3");
      assert.ok(tokens.has("b-venue"));
      assert.ok(!tokens.has("c-venue"));
      assert.ok(lines.every((l) => !JSON.stringify(l).includes("token-")), "tokens are never logged");
      assert.throws(() => new KioskTokenDir(`${dir}/missing`), /ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
