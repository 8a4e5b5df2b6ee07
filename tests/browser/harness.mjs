// Shared set-up of the browser tests (tests/browser, docs/web.md "Tests"):
// the running stack and gateway they drive (ops/test_web.sh starts both),
// Debian's chromium through playwright-core, tokens, direct gRPC clients,
// axe-core and the glyph check.
//
// Environment: WEB_URL (the gateway, e.g. http://127.0.0.1:28090, or https://
// with a stack running TLS), LIFELONG_VAR (the stack's var dir: mint_token,
// jwt.key, operator.token), LIFELONG_RECORDS, LIFELONG_CATALOG,
// LIFELONG_RECOMMEND (host:port), KIOSK_VENUE, CHROMIUM; with TLS on,
// LIFELONG_TLS_CA, LIFELONG_TLS_CERT, LIFELONG_TLS_KEY (the direct gRPC
// clients' mutual TLS). ops/test_web.sh (WEB_TEST_TLS=1) makes the browser and
// Node's fetch trust the development CA (NSS database in $HOME, NODE_EXTRA_CA_CERTS):
// no certificate error is ignored.

import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { execFileSync } from "node:child_process";
import {
  AXE_PATH, CourseCatalogService, LearningRecordService, RecommendationService, chromium, createClient,
  createGrpcTransport,
} from "../../services/web/testing.js";

export const WEB = process.env.WEB_URL || "http://127.0.0.1:8090";
export const VAR = process.env.LIFELONG_VAR || "var";
export const VENUE = process.env.KIOSK_VENUE || "beixinqiao-sqxx";
const chromiumPath = () => process.env.CHROMIUM || execFileSync("sh", ["-c", "command -v chromium"]).toString().trim();

// A fresh self-signed certificate for localhost (P-256, one day), made with
// openssl in a temporary directory that is gone again: { cert, key } (PEM).
export function selfSignedCert() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gw-cert-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", `${dir}/k.pem`, "-out", `${dir}/c.pem`, "-subj", "/CN=localhost", "-days", "1"], { stdio: "ignore" });
    return { cert: fs.readFileSync(`${dir}/c.pem`), key: fs.readFileSync(`${dir}/k.pem`) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export const PORTRAIT = { width: 1080, height: 1920 };
export const LANDSCAPE = { width: 1920, height: 1080 };
export const PHONE = { width: 390, height: 844 };

export async function launch() {
  return chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox", "--disable-gpu", "--lang=zh-CN"] });
}

// A page with the pages' errors collected in page.errors (a test fails on any).
export async function newPage(browser, viewport, extra = {}) {
  const context = await browser.newContext({ viewport, locale: "zh-CN", timezoneId: "Asia/Shanghai",
                                             bypassCSP: true, ...extra });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  return page;
}

export function mintToken(role, subject, extra = []) {
  return execFileSync(`${VAR}/bin/mint_token`, [`--key_file=${VAR}/auth/jwt.key`, `--role=${role}`,
    `--subject=${subject}`, "--ttl=1h", ...extra]).toString().trim();
}

export function operatorToken() {
  return fs.readFileSync(`${VAR}/auth/operator.token`, "utf8").trim();
}

// Direct gRPC clients of the stack (no gateway), for set-up and checks.
export function grpcClients() {
  const tls = process.env.LIFELONG_TLS_CA
    ? { ca: fs.readFileSync(process.env.LIFELONG_TLS_CA), cert: fs.readFileSync(process.env.LIFELONG_TLS_CERT),
        key: fs.readFileSync(process.env.LIFELONG_TLS_KEY) }
    : null;
  const t = (addr) => createGrpcTransport(tls ? { baseUrl: `https://${addr}`, nodeOptions: tls } : { baseUrl: `http://${addr}` });
  return {
    catalog: createClient(CourseCatalogService, t(process.env.LIFELONG_CATALOG || "127.0.0.1:7002")),
    records: createClient(LearningRecordService, t(process.env.LIFELONG_RECORDS || "127.0.0.1:7001")),
    recommend: createClient(RecommendationService, t(process.env.LIFELONG_RECOMMEND || "127.0.0.1:7003")),
  };
}
export const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });

// A Connect (JSON) call through the gateway, as a browser makes it.
export async function gatewayCall(service, method, body, headers = {}) {
  const res = await fetch(`${WEB}/api/lifelong.v1.${service}/${method}`, {
    method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// Sends `text` as it is on a new connection to `base` (TLS when it is https://,
// trusting what Node trusts: NODE_EXTRA_CA_CERTS under WEB_TEST_TLS=1, or `ca`)
// and resolves with the answer's status (null when the connection closed with
// no answer) and body. Node's own clients refuse to send such request targets.
export function rawRequest(base, text, ca) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    const host = u.hostname.replace(/^\[|\]$/g, "");
    const sock = u.protocol === "https:"
      ? tls.connect({ host, port, ca, servername: net.isIP(host) ? undefined : host })
      : net.connect({ host, port });
    let data = "";
    sock.setEncoding("utf8");
    sock.setTimeout(10000, () => sock.destroy(new Error("no answer in 10 s")));
    sock.on("data", (d) => { data += d; });
    sock.on("error", (e) => (data ? resolve(parse()) : reject(e)));
    sock.on("close", () => resolve(parse()));
    sock.once(u.protocol === "https:" ? "secureConnect" : "connect", () => sock.write(text));
    function parse() {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      return { status: m ? Number(m[1]) : null, body: data.slice(data.indexOf("\r\n\r\n") + 4) };
    }
  });
}

// A fresh kiosk pass code of a learner (what the app shows).
export async function kioskPass(learnerToken) {
  const r = await gatewayCall("LearningRecordService", "CreateKioskPass", {}, { authorization: `Bearer ${learnerToken}` });
  if (r.status !== 200) throw new Error(`CreateKioskPass: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.code;
}

// axe-core on the current screen: the serious and critical violations.
export async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) {
    await page.addScriptTag({ path: AXE_PATH });
  }
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
}

// Whether Chinese text renders as real glyphs (not tofu): two different
// characters drawn in the page's body font must give different pixels (tofu
// boxes are identical), and the glyph must cover some pixels.
export async function cjkRenders(page) {
  return page.evaluate(() => {
    const font = getComputedStyle(document.body).font;
    const draw = (ch) => {
      const c = document.createElement("canvas");
      c.width = 64; c.height = 64;
      const g = c.getContext("2d");
      g.font = font.replace(/\d+px/, "40px");
      g.fillStyle = "#000";
      g.fillText(ch, 4, 48);
      return g.getImageData(0, 0, 64, 64).data.filter((_, i) => i % 4 === 3 && _ > 0).length;
    };
    const pixels = (ch) => {
      const c = document.createElement("canvas");
      c.width = 64; c.height = 64;
      const g = c.getContext("2d");
      g.font = font.replace(/\d+px/, "40px");
      g.fillText(ch, 4, 48);
      return Array.from(g.getImageData(0, 0, 64, 64).data).join(",");
    };
    return { ink: draw("课"), differ: pixels("课") !== pixels("程"),
             tofuLike: pixels("课") === pixels("\u{E000}") };
  });
}

// Layout checks for seniors: every visible button at least 48x48 CSS px,
// body text at least 24px, no horizontal scrolling.
export async function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    for (const b of document.querySelectorAll("button")) {
      const r = b.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.width < 48 || r.height < 48) problems.push(`button "${b.textContent}" is ${r.width}x${r.height}`);
    }
    for (const el of document.querySelectorAll("p, li, dd, dt, .line, button")) {
      const px = parseFloat(getComputedStyle(el).fontSize);
      if (el.getClientRects().length && px < 24) problems.push(`${el.tagName} "${el.textContent.slice(0, 20)}" at ${px}px`);
    }
    const junk = /\b(null|undefined|NaN|\[object Object\])\b/.exec(document.body.innerText);
    if (junk) problems.push(`"${junk[0]}" shown on the screen`);
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
      problems.push(`horizontal scroll: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
    }
    return problems;
  });
}

// The learning-path plan on the screen (services/web/public/shared/path.js).
export async function shownPlan(page) {
  return page.evaluate(() => {
    const text = (sel) => (document.querySelector(sel) || {}).textContent || "";
    return {
      verdict: document.querySelector("#verdict").dataset.feasible,
      reason: (document.querySelector("#path-reason") || { dataset: {} }).dataset.reason || "",
      steps: [...document.querySelectorAll("#steps li.step")].map((li) => ({ id: li.dataset.course, text: li.textContent })),
      earned: text("#credits-earned"), planned: text("#credits-planned"), required: text("#credits-required"),
      categories: [...document.querySelectorAll("#by-category li")].map((li) => li.dataset.category),
    };
  });
}

// Asserts that the screen shows `plan` (a PlanPathResponse from the
// recommender itself): the verdict, the reason, every step in order with its
// sessions and why, the credits earned / planned / required per category.
export async function assertPlanShown(page, plan) {
  const shown = await shownPlan(page);
  const num = (n) => String(Math.round((Number(n) || 0) * 10) / 10);
  assert.equal(shown.verdict, plan.alreadyAchieved ? "achieved" : String(plan.feasible));
  assert.equal(shown.reason, plan.reason);
  assert.deepEqual(shown.steps.map((s) => s.id), plan.steps.map((s) => s.course.courseId));
  plan.steps.forEach((s, i) => {
    const t = shown.steps[i].text;
    assert.ok(t.includes(`第 ${i + 1} 步：${s.course.title}`), t);
    assert.ok(t.includes(`共 ${(s.sessions || []).length + (Number(s.sessionsNotListed) || 0)} 次课`), t);
    assert.match(t, /为什么：\S/);
    assert.ok(!t.includes(`为什么：${s.why}`) || !/^[a-z]/.test(s.why), `why untranslated: ${t}`);
  });
  const p = plan.progress;
  assert.ok(p, "a programme plan has progress");
  assert.equal(shown.earned, `${num(p.creditsEarned)} 学分`);
  assert.equal(shown.planned, `${num(p.creditsPlanned)} 学分`);
  assert.equal(shown.required, p.creditsRequired ? `${num(p.creditsRequired)} 学分` : "");
  assert.deepEqual(shown.categories, p.byCategory.map((c) => c.category));
  return shown;
}

// Holds the replies of `method` (a gRPC method name, the URL's last part) in
// the network until the returned function is called; that function releases
// them, checks the reply arrived (status 200, or `fulfil`'s), and gives a late
// reply a second to reach the screen. `fulfil`: answer with this instead of
// the service's reply.
export async function holdReplies(page, method, fulfil) {
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route(`**/${method}`, async (route) => {
    await held;
    await (fulfil ? route.fulfill(fulfil) : route.continue());
  });
  return async () => {
    const answered = page.waitForResponse((r) => r.url().endsWith(`/${method}`));
    release();
    assert.equal((await answered).status(), fulfil ? fulfil.status : 200, `${method} answered`);
    await page.waitForTimeout(1000);  // time for a late reply to reach the screen
    await page.unroute(`**/${method}`);
  };
}
