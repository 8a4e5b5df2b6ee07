// The app signed in with an ID token of the district identity provider
// (OpenID Connect, RS256), verified by the services against the provider's
// JWKS file (services/auth/oidc.h, --auth_oidc_*). ops/test_web.sh plays the
// provider: it makes a signing key, gives the services its JWKS and the tests
// its private key (WEB_OIDC_KEY, WEB_OIDC_KID, WEB_OIDC_ISSUER, WEB_OIDC_AUDIENCE).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { PHONE, WEB, axeViolations, bearer, gatewayCall, grpcClients, launch, newPage } from "./harness.mjs";

const APP = `${WEB}/app/`;
const KEY = process.env.WEB_OIDC_KEY;
const KID = process.env.WEB_OIDC_KID || "dev-idp-1";
const ISSUER = process.env.WEB_OIDC_ISSUER || "https://id.dongcheng.gov.cn";
const AUDIENCE = process.env.WEB_OIDC_AUDIENCE || "lifelong-app";

const b64 = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");

// An ID token as the provider issues it, signed with `key` (PEM).
function idToken(claims, { key = fs.readFileSync(KEY), kid = KID, alg = "RS256" } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const body = { iss: ISSUER, aud: AUDIENCE, iat: now - 5, exp: now + 600, nonce: "n-0S6_WzA2Mj", ...claims };
  const signing = `${b64({ alg, typ: "JWT", kid })}.${b64(body)}`;
  return `${signing}.${crypto.sign("sha256", Buffer.from(signing), key).toString("base64url")}`;
}

let browser;
before(async () => {
  assert.ok(KEY && fs.existsSync(KEY), "WEB_OIDC_KEY: the test identity provider's key (ops/test_web.sh sets it)");
  browser = await launch();
});
after(async () => { await browser?.close(); });

describe("app sign-in with the identity provider's ID token", () => {
  test("an ID token signs the learner in: 为你推荐 and their own transcript", async () => {
    const learner = "u000070";
    const page = await newPage(browser, PHONE);
    await page.goto(APP);
    await page.waitForSelector("#token");
    await page.fill("#token", idToken({ sub: learner }));
    await page.click("#signin");
    await page.waitForSelector("#cards .card, #empty");
    assert.deepEqual(await axeViolations(page), []);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/GetTranscript")),
      page.click('a[data-tab="transcript"]'),
    ]);
    assert.equal(res.status(), 200, await res.text());
    assert.equal(JSON.parse(res.request().postData()).learner, learner);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("forged, misdirected and over-reaching ID tokens are refused by the services", async () => {
    const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
      .export({ type: "pkcs8", format: "pem" });
    const call = (token, learner = "u000071") =>
      gatewayCall("LearningRecordService", "GetTranscript", { learner }, { authorization: `Bearer ${token}` });
    assert.equal((await call(idToken({ sub: "u000071" }))).status, 200);
    for (const [why, token] of [
      ["another key under the provider's kid", idToken({ sub: "u000071" }, { key: other })],
      ["another issuer", idToken({ sub: "u000071", iss: "https://evil.example" })],
      ["another audience", idToken({ sub: "u000071", aud: "someone-else" })],
      ["expired", idToken({ sub: "u000071", iat: 1700000000, exp: 1700000600 })],
      ["unknown kid", idToken({ sub: "u000071" }, { kid: "nope" })],
    ]) {
      const r = await call(token);
      assert.equal(r.body && r.body.code, "unauthenticated", `${why}: ${JSON.stringify(r.body)}`);
    }
    // A valid ID token is a learner and nothing more: not another learner's data, not an operator.
    const mine = idToken({ sub: "u000072", role: "operator" });
    assert.equal((await call(mine, "u000073")).body.code, "permission_denied");
    const { records } = grpcClients();
    await assert.rejects(records.listAuditEvents({}, bearer(mine)), /permission/i);
  });
});
