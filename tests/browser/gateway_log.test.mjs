// The gateway's log file is rotated (services/web/gateway/log.js), as the C++
// services' are: every bridged call is logged, refused ones included, so the
// file behind `>>var/log/web.log` grew without end until the disk was full.
// Stack-free: log.js in a child process whose stdout is a file (or a pipe),
// and main.js with its services down, flooded with calls that are all
// refused UNAVAILABLE (each logged).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LOG_JS = path.join(HERE, "../../services/web/gateway/log.js");
const MAIN = path.join(HERE, "../../services/web/gateway/main.js");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freshDir(name) {
  return fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), `${name}-`));
}

// Runs `code` (an ES module importing log.js as L) with stdout and stderr
// appending to `file` (or a pipe when `file` is null); returns its stderr
// when piped.
function runWithLog(file, code) {
  const fd = file ? fs.openSync(file, "a") : "pipe";
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", `import * as L from ${JSON.stringify(LOG_JS)};\n${code}`],
    { stdio: ["ignore", fd, file ? fd : "pipe"], encoding: "utf8", timeout: 20000 });
  if (file) fs.closeSync(fd);
  assert.equal(r.status, 0, String(r.stderr));
  return r;
}

// The "i" of each line (every line a whole JSON object).
function numbers(text) {
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line).i);
}

describe("gateway log rotation", () => {
  test("past the size the file becomes FILE.1 ...; the newest files are kept, every line whole and in order", () => {
    const file = path.join(freshDir("rotation"), "web.log");
    fs.writeFileSync(file, `${JSON.stringify({ i: -1, pad: "o".repeat(5000) })}\n`);  // already over: rotated first
    runWithLog(file, `L.configureLogRotation({ rotateBytes: 4096, keep: 2 });
      for (let i = 0; i < 300; i++) L.log({ i, pad: "x".repeat(40) });
      if (L.logRotations() < 4) throw new Error("rotations: " + L.logRotations());`);
    assert.ok(fs.existsSync(`${file}.1`) && fs.existsSync(`${file}.2`));
    assert.ok(!fs.existsSync(`${file}.3`), "only --log_keep files are kept");
    const all = [];
    for (const f of [`${file}.2`, `${file}.1`, file]) {
      const text = fs.readFileSync(f, "utf8");
      assert.ok(text.length <= 4096 + 200, `${f}: ${text.length} bytes`);
      all.push(...numbers(text));
    }
    assert.equal(all.at(-1), 299);
    for (let k = 1; k < all.length; k++) assert.equal(all[k], all[k - 1] + 1, "lines lost or reordered");
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  test("a pipe is never rotated, and 0 never rotates", () => {
    const piped = spawnSync(process.execPath, ["--input-type=module", "-e", `import * as L from ${JSON.stringify(LOG_JS)};
      L.configureLogRotation({ rotateBytes: 100, keep: 2 });
      for (let i = 0; i < 20; i++) L.log({ i });
      process.stderr.write(String(L.logRotations()));`], { encoding: "utf8", timeout: 20000 });
    assert.equal(piped.status, 0, piped.stderr);
    assert.equal(piped.stderr, "0");
    assert.deepEqual(numbers(piped.stdout), [...Array(20).keys()]);
    const file = path.join(freshDir("never"), "web.log");
    runWithLog(file, `L.configureLogRotation({ rotateBytes: 0, keep: 2 });
      for (let i = 0; i < 200; i++) L.log({ i, pad: "x".repeat(40) });`);
    assert.ok(!fs.existsSync(`${file}.1`));
    assert.equal(numbers(fs.readFileSync(file, "utf8")).length, 200);
  });

  test("main.js: --log_rotate_mb and --log_keep are checked", () => {
    for (const [args, why] of [
      [["--log_rotate_mb=x"], /--log_rotate_mb: must be a non-negative integer/],
      [["--log_rotate_mb=-1"], /--log_rotate_mb/],
      [["--log_keep=0"], /--log_keep: must be an integer in \[1, 100\]/],
      [["--log_keep=101"], /--log_keep/],
    ]) {
      const r = spawnSync(process.execPath, [MAIN, "--port=0", ...args], { encoding: "utf8", timeout: 10000 });
      assert.equal(r.status, 2, `${args}: ${r.stderr}`);
      assert.match(r.stderr, why, args.join(" "));
    }
  });

  test("main.js: a flood of refused calls leaves at most --log_keep files of about --log_rotate_mb", async () => {
    const dir = freshDir("flood");
    const file = path.join(dir, "web.log");
    const fd = fs.openSync(file, "a");
    const child = spawn(process.execPath, [MAIN, "--port=0", `--port_file=${dir}/port`, "--log_rotate_mb=1", "--log_keep=1",
      "--records=127.0.0.1:1", "--catalog=127.0.0.1:1", "--recommend=127.0.0.1:1", "--upstream_timeout_ms=1000"],
      { stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    try {
      let port = 0;
      for (let i = 0; i < 100 && !port; i++) {
        await sleep(100);
        if (fs.existsSync(`${dir}/port`)) port = +fs.readFileSync(`${dir}/port`, "utf8").trim();
      }
      assert.ok(port > 0, fs.readFileSync(file, "utf8"));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      const body = JSON.stringify({ id: "c00001" });
      const call = () => new Promise((resolve) => {
        const req = http.request({ host: "127.0.0.1", port, agent, method: "POST",
          path: "/api/lifelong.v1.CourseCatalogService/GetCourse",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode));
        });
        req.on("error", () => resolve(0));
        req.end(body);
      });
      let answered = 0;
      // ~250 bytes of log per call: 12,000 calls write about three files' worth.
      for (let round = 0; round < 60; round++) {
        const codes = await Promise.all(Array.from({ length: 200 }, call));
        answered += codes.filter((c) => c > 0).length;
      }
      const metrics = await new Promise((resolve, reject) => {
        http.get({ host: "127.0.0.1", port, agent, path: "/metrics" }, (res) => {
          let text = "";
          res.on("data", (d) => { text += d; });
          res.on("end", () => resolve(text));
        }).on("error", reject);
      });
      agent.destroy();
      assert.equal(answered, 12000);
      const rotations = /\nlifelong_web_log_rotations_total (\d+)\n/.exec(metrics);
      assert.ok(rotations && +rotations[1] >= 2, `rotations in /metrics: ${rotations && rotations[1]}`);
      await sleep(200);
      const sizes = [file, `${file}.1`].map((f) => fs.statSync(f).size);
      for (const s of sizes) assert.ok(s <= (1 << 20) + 4096, `sizes ${sizes}`);
      assert.ok(!fs.existsSync(`${file}.2`), "only one rotated file kept");
      assert.ok(fs.readFileSync(`${file}.1`, "utf8").includes('"event":"rpc"'), "the calls were logged");
    } finally {
      child.kill("SIGKILL");
    }
  });
});
