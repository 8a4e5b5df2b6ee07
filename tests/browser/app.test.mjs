// The mobile web app (phone viewport) against the real stack through the gateway.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  PHONE, VENUE, WEB, assertPlanShown, axeViolations, bearer, cjkRenders, gatewayCall, grpcClients, launch, mintToken,
  holdReplies, newPage, operatorToken,
} from "./harness.mjs";

const APP = `${WEB}/app/`;
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// Phone layout: targets >= 48 CSS px (links in the tab bar included), no horizontal scroll.
async function phoneProblems(page) {
  return page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll("button, nav a, select, input[type=checkbox]")) {
      const r = (el.type === "checkbox" ? el.closest("label") : el).getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (el.closest("dialog") && !el.closest("dialog").open) continue;
      if (r.width < 48 || r.height < 48) out.push(`${el.tagName} "${el.textContent}" ${r.width}x${r.height}`);
    }
    if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push("horizontal scroll");
    const junk = /\b(null|undefined|NaN|\[object Object\])\b/.exec(document.body.innerText);
    if (junk) out.push(`"${junk[0]}" shown on the screen`);
    return out;
  });
}

async function signedIn(learner) {
  const page = await newPage(browser, PHONE, { acceptDownloads: true });
  await page.goto(APP);
  await page.waitForSelector("#token");
  await page.fill("#token", mintToken("learner", learner));
  await page.click("#signin");
  await page.waitForSelector("#cards .card, #empty");
  return page;
}

async function screenCheck(page) {
  assert.deepEqual(await axeViolations(page), []);
  assert.deepEqual(await phoneProblems(page), []);
}

describe("app", () => {
  test("sign-in refuses a non-learner or malformed token, then signs in; 为你推荐 renders Chinese", async () => {
    const page = await newPage(browser, PHONE);
    await page.goto(APP);
    await page.waitForSelector("#token");
    await screenCheck(page);
    await page.fill("#token", "not-a-token");
    await page.click("#signin");
    assert.match(await page.textContent("#signin-message"), /无效/);
    await page.fill("#token", mintToken("kiosk", "kiosk-x", [`--venue=${VENUE}`]));
    await page.click("#signin");
    assert.match(await page.textContent("#signin-message"), /学员/);
    await page.fill("#token", mintToken("learner", "u000060"));
    await page.click("#signin");
    await page.waitForSelector("#cards .card");
    assert.equal(await page.textContent("h1"), "为你推荐");
    assert.equal(await page.textContent("#who"), "u000060");
    await screenCheck(page);
    const g = await cjkRenders(page);
    assert.ok(g.ink > 50 && g.differ && !g.tofuLike, JSON.stringify(g));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("filters: online/offline, 学区, category and open now reach the recommender and hold for every card", async () => {
    const page = await signedIn("u000061");
    const pick = async (action, check) => {
      const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/Recommend")), action()]);
      const body = await res.json();
      check(JSON.parse(res.request().postData()).filter, body.recommendations || []);
      await page.waitForSelector("#cards .card, #empty");
    };
    await pick(() => page.selectOption("#f-mode", "ONLINE"), (f, recs) => {
      assert.deepEqual(f.modes, ["ONLINE", "BLENDED"]);
      assert.ok(recs.length > 0);
      for (const r of recs) assert.notEqual(r.course.mode, "OFFLINE");
    });
    await pick(() => page.selectOption("#f-mode", "OFFLINE"), (f, recs) => {
      for (const r of recs) assert.notEqual(r.course.mode, "ONLINE");
    });
    await pick(() => page.selectOption("#f-xuequ", "北新桥学区"), (f, recs) => {
      assert.deepEqual(f.xuequ, ["北新桥学区"]);
      for (const r of recs) assert.equal(r.course.xuequ, "北新桥学区");
    });
    await pick(() => page.selectOption("#f-xuequ", ""), () => {});
    await pick(() => page.selectOption("#f-category", "书法"), (f, recs) => {
      for (const r of recs) assert.equal(r.course.category, "书法");
    });
    await pick(() => page.check("#f-open"), (f, recs) => {
      assert.equal(f.openForEnrolmentNow, true);
      for (const r of recs) assert.equal(r.course.enrolmentOpen, true);
    });
    await screenCheck(page);
    await page.context().close();
  });

  test("course detail and enrol: `registered` stored, the course leaves the next recommendation", async () => {
    const learner = "u000062";
    const page = await signedIn(learner);
    const id = await page.getAttribute("#cards .card", "data-course");
    await page.click(`#cards .card[data-course="${id}"]`);
    await page.waitForSelector("#enrol");
    await screenCheck(page);
    await page.click("#enrol");
    await page.waitForSelector("#done");
    await screenCheck(page);
    const { records } = grpcClients();
    const mine = await records.listStatements({ learner, verb: "http://adlnet.gov/expapi/verbs/registered" },
                                              bearer(mintToken("learner", learner)));
    assert.ok(mine.statements.some((s) => s.activity.endsWith(`/courses/${id}`)));
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/Recommend")), page.click("#back")]);
    assert.ok(!(await res.json()).recommendations.some((r) => r.course.courseId === id));
    await page.context().close();
  });

  test("history and transcript show the learner's own records", async () => {
    const learner = "u000042";
    const page = await signedIn(learner);
    const token = mintToken("learner", learner);
    const { records } = grpcClients();
    const list = await records.listStatements({ learner, pageSize: 50 }, bearer(token));
    await page.click('a[data-tab="history"]');
    await page.waitForSelector("#history, #history-empty");
    assert.equal(await page.$$eval("#history li", (l) => l.length), list.statements.length);
    await screenCheck(page);
    const t = await records.getTranscript({ learner }, bearer(token));
    await page.click('a[data-tab="transcript"]');
    await page.waitForSelector("#credits");
    assert.equal(Number(await page.textContent("#credits")), t.credits);
    // Each entry says whether it is verified (earns credits) or self-reported (earns none).
    assert.equal(await page.$$eval("#entries li.verified", (l) => l.length), t.entries.filter((e) => e.verified).length);
    assert.equal(await page.$$eval("#entries li.unverified", (l) => l.length), t.entries.filter((e) => !e.verified).length);
    for (const text of await page.$$eval("#entries li.verified", (l) => l.map((x) => x.textContent))) {
      assert.match(text, /已认证/);
    }
    await screenCheck(page);
    await page.context().close();
  });

  test("a self-reported completion is shown as such and earns no credits", async () => {
    const learner = "u000037";
    const token = mintToken("learner", learner);
    const { records } = grpcClients();
    const before = await records.getTranscript({ learner }, bearer(token));
    // The learner records their own completion with a credits claim: accepted, but not verified.
    await records.recordStatement({ statementJson: JSON.stringify({
      actor: { account: { homePage: "https://id.dongcheng.gov.cn", name: learner } },
      verb: { id: "http://adlnet.gov/expapi/verbs/completed" },
      object: { id: "https://lifelong.dongcheng.edu.cn/courses/c00002" },
      context: { extensions: { "https://lifelong.dongcheng.edu.cn/xapi/ext/credits": 9 } } }) }, bearer(token));
    const t = await records.getTranscript({ learner }, bearer(token));
    assert.equal(t.credits, before.credits, "a self-reported completion earns no credits");
    const page = await signedIn(learner);
    await page.click('a[data-tab="transcript"]');
    await page.waitForSelector("#credits");
    assert.equal(Number(await page.textContent("#credits")), t.credits);
    const unverified = await page.$$eval("#entries li.unverified", (l) => l.map((x) => x.textContent));
    assert.ok(unverified.some((x) => /自报，未计学分（申报 9 学分）/.test(x)), JSON.stringify(unverified));
    await screenCheck(page);
    await page.context().close();
  });

  test("a kiosk pass from the app signs the learner in at the kiosk", async () => {
    const page = await signedIn("u000063");
    await page.click('a[data-tab="pass"]');
    await page.waitForSelector("#pass-code");
    await screenCheck(page);
    const code = (await page.textContent("#pass-code")).trim();
    assert.match(code, /^\d{8}$/);
    const kiosk = await newPage(browser, { width: 1080, height: 1920 });
    await kiosk.goto(`${WEB}/kiosk/?venue=${VENUE}`);
    await kiosk.click("#sign-in");
    for (const d of code) await kiosk.click(`[data-key="${d}"]`);
    await kiosk.click("#submit");
    await kiosk.waitForSelector("#sign-out");
    assert.equal((await kiosk.textContent("#who")).trim(), "u000063 您好");
    await kiosk.context().close();
    await page.context().close();
  });

  test("my data: export downloads every statement of mine; erasure asks first, then erases", async () => {
    // The first demo learner from u000070 on who has records (not every demo learner has).
    const { records } = grpcClients();
    let learner, token, before;
    for (let n = 70; n < 120 && !learner; n++) {
      const t = mintToken("learner", `u${String(n).padStart(6, "0")}`);
      const r = await records.listStatements({ learner: `u${String(n).padStart(6, "0")}`, pageSize: 1000 }, bearer(t));
      if (r.statements.length > 0) { learner = `u${String(n).padStart(6, "0")}`; token = t; before = r; }
    }
    assert.ok(learner, "a demo learner with records");
    const page = await signedIn(learner);
    await page.click('a[data-tab="data"]');
    await page.waitForSelector("#export");
    await screenCheck(page);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
    const exported = JSON.parse(fs.readFileSync(await download.path(), "utf8"));
    assert.ok(exported.length >= before.statements.length);
    for (const s of exported) assert.equal(s.actor.account.name, learner);
    await page.click("#erase");
    await page.waitForSelector("#erase-dialog[open]");
    await screenCheck(page);
    await page.click("#erase-cancel");
    assert.equal((await records.listStatements({ learner }, bearer(token))).statements.length > 0, true, "cancel erases nothing");
    await page.click("#erase");
    // The erasure is asked with two minutes (it waits for the writes queued
    // before it; the gateway grants as much).
    const eraseRequest = page.waitForRequest((r) => r.url().endsWith("/EraseLearner"));
    await page.click("#erase-confirm");
    assert.equal((await eraseRequest).headers()["connect-timeout-ms"], "120000");
    await page.waitForSelector("#erased");
    assert.match(await page.textContent("#erased"), /已删除 \d+ 条学习记录/);
    await screenCheck(page);
    assert.equal((await records.listStatements({ learner }, bearer(token))).statements.length, 0);
    await page.context().close();
  });

  test("a learner cannot see another learner's data", async () => {
    const a = { authorization: `Bearer ${mintToken("learner", "u000065")}` };
    for (const [m, body] of [["GetTranscript", { learner: "u000066" }], ["ListStatements", { learner: "u000066" }],
                             ["EraseLearner", { learner: "u000066" }]]) {
      const r = await gatewayCall("LearningRecordService", m, body, a);
      assert.equal(r.body.code, "permission_denied", `${m}: ${JSON.stringify(r.body)}`);
    }
    const rec = await gatewayCall("RecommendationService", "Recommend", { learner: "u000066", k: 3 }, a);
    assert.equal(rec.body.code, "permission_denied");
    // A token that claims another learner but is not signed by the district's key.
    const forged = mintToken("learner", "u000066").split(".");
    forged[2] = forged[2].slice(0, -4) + (forged[2].endsWith("AAAA") ? "BBBB" : "AAAA");
    const page = await newPage(browser, PHONE);
    await page.goto(APP);
    await page.evaluate((t) => sessionStorage.setItem("lifelong.token", t), forged.join("."));
    await page.goto(`${APP}#/transcript`);
    await page.waitForSelector("#token");  // back at sign-in, nothing shown
    await page.context().close();
  });

  test("学习路径: the programmes, then the recommender's plan for this learner with progress", async () => {
    const learner = "u000030";
    const token = mintToken("learner", learner);
    const { catalog, recommend } = grpcClients();
    const programmes = (await catalog.listProgrammes({}, bearer(token))).programmes;
    assert.ok(programmes.length >= 5, "the demo district's programmes");
    const page = await signedIn(learner);
    await page.click('a[data-tab="path"]');
    await page.waitForSelector("#programmes");
    assert.equal(await page.textContent("h1"), "学习路径");
    assert.deepEqual(await page.$$eval("#programmes [data-programme]", (l) => l.map((b) => b.dataset.programme)),
                     programmes.map((p) => p.id));
    await screenCheck(page);
    for (const id of ["shequ_jiaoyu", "shuzi_suyang"]) {
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith(".RecommendationService/PlanPath")),
        id === "shequ_jiaoyu" ? page.click(`[data-programme="${id}"]`) : page.selectOption("#p-programme", id),
      ]);
      assert.deepEqual(JSON.parse(res.request().postData()), { learner, programmeId: id });
      assert.match(res.request().headers().authorization, /^Bearer /, "the learner's own token");
      await page.waitForSelector("#verdict");
      const plan = await recommend.planPath({ learner, goal: { case: "programmeId", value: id } }, bearer(token));
      assert.ok(plan.steps.length > 0 || plan.alreadyAchieved || plan.reason, `${id}: an empty plan`);
      assert.equal(await page.textContent("#goal-name"), plan.goalName);
      await assertPlanShown(page, plan);
      await screenCheck(page);
    }
    // A step opens its course.
    const first = await page.getAttribute("#steps button.open-course", "data-course");
    if (first) {
      await page.click(`#steps button.open-course[data-course="${first}"]`);
      await page.waitForSelector("#enrol");
      assert.equal(await page.evaluate(() => location.hash), `#/course/${first}`);
    }
    // An unknown programme id in the address: the picker and a plain note.
    await page.evaluate(() => { location.hash = "#/path/no_such_goal"; });
    await page.waitForSelector("#unknown-programme");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("学习路径: a goal the open courses cannot reach shows the planner's reason, plainly", async () => {
    // A programme no district offers enough courses for (created by the operator, as the catalog team would).
    const { catalog, recommend } = grpcClients();
    const id = `webtest_path_${Date.now()}`;
    await catalog.putProgramme({ programme: { id, name: "书法大师证书（测试）", description: "书法类课程修满500学分。",
                                              credits: 500, byCategory: [{ category: "书法", credits: 500 }] } },
                               bearer(operatorToken()));
    const learner = "u000036";
    // The recommender sees catalog changes at its next snapshot refresh (--catalog_refresh_ms, 2 s).
    let plan;
    for (let i = 0; i < 50 && !plan; i++) {
      plan = await recommend.planPath({ learner, goal: { case: "programmeId", value: id } },
                                      bearer(mintToken("learner", learner))).catch((err) => {
        if (!/not_found|NotFound|\[not_found\]/i.test(String(err))) throw err;
        return new Promise((r) => setTimeout(r, 200));
      });
    }
    assert.ok(plan, "the recommender sees the new programme within 10 s");
    const page = await signedIn(learner);
    await page.evaluate((p) => { location.hash = `#/path/${p}`; }, id);
    await page.waitForSelector("#verdict");
    assert.equal(plan.feasible, false);
    assert.match(plan.reason, /needs [\d.]+ more credits/);
    await assertPlanShown(page, plan);
    assert.match(await page.textContent("#verdict"), /暂时无法完成/);
    const lines = await page.$$eval("#path-reason li", (l) => l.map((li) => li.textContent));
    assert.equal(lines.length, plan.reason.split("\n").length);
    for (const line of lines) assert.match(line, /还差 [\d.]+ 学分/);
    assert.ok(lines.every((l) => !/needs|more credits/.test(l)), lines.join(" / "));
    await screenCheck(page);
    await page.context().close();
  });

  test("学习路径: a learner cannot plan for another learner through the gateway", async () => {
    const a = { authorization: `Bearer ${mintToken("learner", "u000032")}` };
    const r = await gatewayCall("RecommendationService", "PlanPath", { learner: "u000033", programmeId: "shequ_jiaoyu" }, a);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.code, "permission_denied", JSON.stringify(r.body));
    const none = await gatewayCall("RecommendationService", "PlanPath", { learner: "u000033", programmeId: "shequ_jiaoyu" });
    assert.equal(none.body.code, "unauthenticated");
    const self = await gatewayCall("RecommendationService", "PlanPath", { learner: "u000032", programmeId: "shequ_jiaoyu" }, a);
    assert.equal(self.status, 200, JSON.stringify(self.body));
    const bad = await gatewayCall("RecommendationService", "PlanPath", { learner: "u000032", programmeId: "no_such_goal" }, a);
    assert.ok(["not_found", "invalid_argument"].includes(bad.body.code), JSON.stringify(bad.body));
    assert.match(bad.body.message, /programme/);
    const list = await gatewayCall("CourseCatalogService", "ListProgrammes", {}, a);
    assert.equal(list.status, 200);
    assert.ok(list.body.programmes.some((p) => p.id === "shequ_jiaoyu"));
  });

  // A reply held by the network arrives after the learner signed out (and
  // maybe another signed in): it must not reach the screen or the session.
  // (holdReplies: harness.mjs)
  // Opens a tab and waits until its call has left (and is held).
  const openHeld = (page, tab, method) =>
    Promise.all([page.waitForRequest((r) => r.url().endsWith(`/${method}`)), page.click(`a[data-tab="${tab}"]`)]);
  const signOut = async (page) => {
    await page.click('a[data-tab="data"]');
    await page.click("#sign-out");
    await page.waitForSelector("#token");
  };
  const signInAs = async (page, learner) => {
    await page.fill("#token", mintToken("learner", learner));
    await page.click("#signin");
    await page.waitForSelector("#cards .card, #empty");
  };

  test("a late kiosk pass reply after 退出登录 is dropped: the sign-in screen shows no pass code", async () => {
    const page = await signedIn("u000056");
    const release = await holdReplies(page, "CreateKioskPass");
    await openHeld(page, "pass", "CreateKioskPass");
    await signOut(page);
    await release();
    assert.equal(await page.locator("#token").count(), 1, "the sign-in screen is shown");
    assert.equal(await page.textContent("h1"), "登录");
    assert.equal(await page.locator("#pass-code, .code").count(), 0, "a pass code on the sign-in screen");
    assert.doesNotMatch(await page.textContent("#screen"), /\d{8}/);
    assert.equal(await page.isHidden("#tabs"), true);
    assert.equal((await page.textContent("#who")).trim(), "");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("a late transcript of the previous learner is not shown to the next one", async () => {
    const page = await signedIn("u000056");
    const release = await holdReplies(page, "GetTranscript");
    await openHeld(page, "transcript", "GetTranscript");
    await signOut(page);
    await signInAs(page, "u000057");
    await release();
    assert.equal(await page.textContent("h1"), "为你推荐");
    assert.equal(await page.locator("#credits, #totals, #entries").count(), 0, "u000056's transcript shown to u000057");
    assert.equal((await page.textContent("#who")).trim(), "u000057");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("a late UNAUTHENTICATED for the previous learner's call does not sign the next learner out", async () => {
    const page = await signedIn("u000056");
    const release = await holdReplies(page, "ListStatements", {
      status: 401, contentType: "application/json",
      body: JSON.stringify({ code: "unauthenticated", message: "token: expired" }) });
    await openHeld(page, "history", "ListStatements");
    await signOut(page);
    await signInAs(page, "u000057");
    await release();
    assert.equal(await page.locator("#token").count(), 0, "signed out by another learner's late error");
    assert.equal(await page.textContent("h1"), "为你推荐");
    assert.equal((await page.textContent("#who")).trim(), "u000057");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("lifelong.token") !== null), true);
    // Still usable: the learner's own history loads.
    await page.click('a[data-tab="history"]');
    await page.waitForSelector("#history, #history-empty");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("an erasure answered after the learner left 我的数据 still signs that learner out", async () => {
    const page = await signedIn("u000058");
    await page.click('a[data-tab="data"]');
    const release = await holdReplies(page, "EraseLearner");
    await page.click("#erase");
    await page.click("#erase-confirm");
    await page.click('a[data-tab="transcript"]');
    await page.waitForSelector("#credits");
    await release();
    await page.waitForSelector("#token");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("lifelong.token")), null);
    assert.equal(await page.locator("#erased").count(), 0, "the confirmation belongs to the screen that asked");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("a network failure shows a message and a retry", async () => {
    const page = await signedIn("u000067");
    await page.route("**/api/**", (route) => route.abort("connectionreset"));
    await page.click('a[data-tab="transcript"]');
    await page.waitForSelector("#retry");
    assert.match(await page.textContent('[role="alert"]'), /网络连接出现问题/);
    await screenCheck(page);
    await page.unroute("**/api/**");
    await page.click("#retry");
    await page.waitForSelector("#credits");
    await page.context().close();
  });

  test("installable: manifest, icons and a service worker that never caches /api/", async () => {
    const page = await signedIn("u000068");
    const manifest = await (await fetch(`${WEB}/app/manifest.webmanifest`)).json();
    assert.equal(manifest.start_url, "/app/");
    assert.equal(manifest.display, "standalone");
    for (const icon of manifest.icons) assert.equal((await fetch(WEB + icon.src)).status, 200, icon.src);
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
    assert.equal(scope, `${WEB}/app/`);
    const sw = await (await fetch(`${WEB}/app/sw.js`)).text();
    assert.match(sw, /startsWith\("\/api\/"\)\) return/);
    await page.context().close();
  });
});
