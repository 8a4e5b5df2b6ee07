// The kiosk with a signed-in learner: pass code sign-in, 为你推荐, enrol
// (registered) and check-in (attended) with their effect on the next
// recommendation, the idle timeout, and what a kiosk may not do.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  LANDSCAPE, PORTRAIT, VENUE, WEB, assertPlanShown, axeViolations, bearer, gatewayCall, grpcClients, kioskPass, launch,
  holdReplies, layoutProblems, mintToken, newPage, operatorToken,
} from "./harness.mjs";

const KIOSK = `${WEB}/kiosk/?venue=${VENUE}`;
const COURSE_IRI = "https://lifelong.dongcheng.edu.cn/courses/";
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function signIn(page, learner) {
  const code = await kioskPass(mintToken("learner", learner));
  await page.click("#sign-in");
  await page.waitForSelector("#code");
  assert.deepEqual(await axeViolations(page), []);
  assert.deepEqual(await layoutProblems(page), []);
  for (const d of code) await page.click(`[data-key="${d}"]`);
  await page.click("#submit");
  await page.waitForSelector("#sign-out");
  await page.waitForSelector("#cards .card, #empty");
  assert.equal((await page.textContent("#who")).trim(), `${learner} 您好`);
}

async function statements(learner, verb) {
  const { records } = grpcClients();
  const res = await records.listStatements(
    { learner, verb: `http://adlnet.gov/expapi/verbs/${verb}`, pageSize: 100 }, bearer(mintToken("learner", learner)));
  return res.statements.map((s) => s.activity);
}

describe("kiosk sign-in", () => {
  test("pass code signs in, shows 为你推荐; enrolling records `registered` and the course leaves the next recommendation", async () => {
    const learner = "u000042";
    const page = await newPage(browser, PORTRAIT);
    await page.goto(KIOSK);
    await page.waitForSelector("#cards .card");
    await signIn(page, learner);
    assert.equal(await page.textContent("h1"), "为你推荐");
    const id = await page.getAttribute("#cards .card", "data-course");
    await page.click(`#cards .card[data-course="${id}"]`);
    await page.waitForSelector("#enrol");
    assert.deepEqual(await axeViolations(page), []);
    await page.click("#enrol");
    await page.waitForSelector("#done");
    assert.equal(await page.textContent("#done"), "报名成功！");
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(await layoutProblems(page), []);
    assert.ok((await statements(learner, "registered")).includes(COURSE_IRI + id), "registered statement stored");
    // The next recommendation, at once, no longer offers the course.
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/Recommend")), page.click("#more")]);
    const ids = (await res.json()).recommendations.map((r) => r.course.courseId);
    assert.ok(!ids.includes(id), `${id} still recommended after enrolling: ${ids}`);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("check-in for today's session records `attended` at this venue", async () => {
    const learner = "u000044";
    // A course at this venue with a session now (today, Beijing time), created by the operator.
    const { catalog } = grpcClients();
    const id = `webtest-checkin-${Date.now()}`;
    const now = Math.floor(Date.now() / 1000);
    const beijingMidnight = now - ((now + 8 * 3600) % 86400);
    const start = Math.max(now - 600, beijingMidnight + 1);
    await catalog.createCourse({ courseId: id, course: {
      title: "太极拳晨练（签到测试）", category: "健康与体育", provider: { name: "北新桥街道社区教育学校", kind: 2 },
      mode: 1, venue: { id: VENUE, name: "东城区北新桥街道社区教育学校", address: "北京市东城区北新桥三条", xuequ: "北新桥学区", jiedao: "北新桥" },
      sessions: [{ startTime: { seconds: BigInt(start) }, endTime: { seconds: BigInt(now + 3600) }, room: "一层活动室" }],
      capacity: 30, credits: 0.5, hours: 1, audiences: [4], state: 2,
    } }, bearer(operatorToken()));
    const page = await newPage(browser, PORTRAIT);
    await page.goto(KIOSK);
    await page.waitForSelector("#cards .card");
    await signIn(page, learner);
    // Today's courses at this venue are listed on the signed-in home screen.
    await page.click(`#today .card[data-course="${id}"]`);
    await page.waitForSelector("#check-in");
    await page.click("#check-in");
    await page.waitForSelector("#done");
    assert.equal(await page.textContent("#done"), "签到成功！");
    assert.deepEqual(await axeViolations(page), []);
    assert.ok((await statements(learner, "attended")).includes(COURSE_IRI + id), "attended statement stored");
    await page.context().close();
  });

  test("我的学习和学分: the learner's own credits and recent learning, or a plain note where the role table withholds them", async () => {
    const learner = "u000042";
    const page = await newPage(browser, PORTRAIT);
    await page.goto(KIOSK);
    await page.waitForSelector("#cards .card");
    await signIn(page, learner);
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/GetTranscript")), page.click("#my-learning")]);
    await page.waitForSelector("#credits, #not-here");
    if (res.status() === 200) {
      const { records } = grpcClients();
      const t = await records.getTranscript({ learner }, bearer(mintToken("learner", learner)));
      assert.equal(await page.textContent("#credit-total"), `${t.credits} 学分`);
    } else {
      assert.equal((await res.json()).code, "permission_denied");
      assert.match(await page.textContent("#not-here"), /请在手机上/);
    }
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(await layoutProblems(page), []);
    await page.context().close();
  });

  test("学习路径: signed in, pick a goal, see the recommender's plan (big text, one task per screen)", async () => {
    const learner = "u000031";
    const token = mintToken("learner", learner);
    const { catalog, recommend } = grpcClients();
    const programmes = (await catalog.listProgrammes({}, bearer(token))).programmes;
    assert.ok(programmes.length >= 5, "the demo district's programmes");
    const page = await newPage(browser, PORTRAIT);
    await page.goto(KIOSK);
    await page.waitForSelector("#cards .card");
    assert.equal(await page.$("#my-path"), null, "no 学习路径 before sign-in");
    await signIn(page, learner);
    await page.click("#my-path");
    await page.waitForSelector("#programmes");
    assert.deepEqual(await page.$$eval("#programmes [data-programme]", (l) => l.map((b) => b.dataset.programme)),
                     programmes.map((p) => p.id));
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(await layoutProblems(page), []);
    const id = "laonian_daxue";
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(".RecommendationService/PlanPath")),
      page.click(`[data-programme="${id}"]`),
    ]);
    assert.deepEqual(JSON.parse(res.request().postData()), { learner, programmeId: id });
    assert.equal(res.request().headers()["x-lifelong-kiosk"], VENUE);
    await page.waitForSelector("#verdict");
    const plan = await recommend.planPath({ learner, goal: { case: "programmeId", value: id } }, bearer(token));
    assert.ok(plan.steps.length > 0 || plan.alreadyAchieved || plan.reason, "an empty plan");
    assert.equal(await page.textContent("#goal-name"), plan.goalName);
    await assertPlanShown(page, plan);
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(await layoutProblems(page), []);
    await page.setViewportSize(LANDSCAPE);
    assert.deepEqual(await layoutProblems(page), []);
    await page.click("#other-goal");
    await page.waitForSelector("#programmes");
    // 返回首页 signs out: the walk-in screen, no path button.
    await page.click("#home");
    await page.waitForSelector("#sign-in");
    assert.equal(await page.$("#my-path"), null);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("a wrong code is refused with a plain message; the page stays signed out", async () => {
    const page = await newPage(browser, PORTRAIT);
    await page.goto(KIOSK);
    await page.waitForSelector("#cards .card");
    await page.click("#sign-in");
    for (const d of "00000000") await page.click(`[data-key="${d}"]`);
    await page.click("#submit");
    await page.waitForFunction(() => document.getElementById("sign-in-message").textContent.length > 0);
    assert.match(await page.textContent("#sign-in-message"), /登录码不正确或已过期/);
    assert.equal((await page.textContent("#who")).trim(), "");
    await page.context().close();
  });

  test("idle timeout signs out and clears the screen", async () => {
    const page = await newPage(browser, PORTRAIT);
    await page.goto(`${KIOSK}&idle=5`);
    await page.waitForSelector("#cards .card");
    await signIn(page, "u000045");
    await page.click("#cards .card");
    await page.waitForSelector("#course-title");
    await page.waitForSelector("#sign-in", { timeout: 12000 });  // back on the walk-in home screen
    assert.equal(await page.textContent("h1"), "这里的课程");
    assert.equal((await page.textContent("#who")).trim(), "");
    await page.context().close();
  });

  // A reply held by the network arrives after the learner tapped 返回首页 and left:
  // it must neither sign the kiosk in for the next visitor nor put the learner's
  // record back on the walk-in screen.
  // (holdReplies: harness.mjs)

  test("a late sign-in or transcript reply after 返回首页 is dropped", async () => {
    const learner = "u000051";
    const page = await newPage(browser, PORTRAIT);
    await page.goto(KIOSK);
    await page.waitForSelector("#cards .card");
    const walkIn = async () => {
      assert.equal(await page.locator("#sign-out").count(), 0, "signed in by a late reply");
      assert.equal((await page.textContent("#who")).trim(), "");
      assert.equal(await page.textContent("h1"), "这里的课程");
    };
    // The pass code's reply held until the visitor has gone back home.
    const code = await kioskPass(mintToken("learner", learner));
    let release = await holdReplies(page, "RedeemKioskPass");
    await page.click("#sign-in");
    await page.waitForSelector("#code");
    for (const d of code) await page.click(`[data-key="${d}"]`);
    await page.click("#submit");
    await page.click("#home");
    await page.waitForSelector("#sign-in");
    await page.waitForSelector("#cards .card, #empty");
    await release();
    await walkIn();
    // Signed in properly; the transcript's reply held until after sign-out.
    await signIn(page, learner);
    release = await holdReplies(page, "GetTranscript");
    await page.click("#my-learning");
    await page.click("#home");
    await page.waitForSelector("#sign-in");
    await page.waitForSelector("#cards .card, #empty");
    await release();
    await walkIn();
    assert.equal(await page.locator("#credits, #recent").count(), 0, "the learner's record shown after sign-out");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("a late UNAUTHENTICATED for the previous visitor's call does not sign the next one out", async () => {
    const page = await newPage(browser, PORTRAIT);
    await page.goto(KIOSK);
    await page.waitForSelector("#cards .card");
    await signIn(page, "u000053");
    // 学习路径's first call (ListProgrammes) held, then answered UNAUTHENTICATED.
    const release = await holdReplies(page, "ListProgrammes", {
      status: 401, contentType: "application/json",
      body: JSON.stringify({ code: "unauthenticated", message: "token: expired" }) });
    await Promise.all([page.waitForRequest((r) => r.url().endsWith("/ListProgrammes")), page.click("#my-path")]);
    await page.click("#home");
    await page.waitForSelector("#sign-in");
    await page.waitForSelector("#cards .card, #empty");
    await signIn(page, "u000054");
    await release();
    assert.equal(await page.locator("#sign-out").count(), 1, "signed out by the previous visitor's late error");
    assert.equal((await page.textContent("#who")).trim(), "u000054 您好");
    assert.equal(await page.textContent("h1"), "为你推荐");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
});

describe("kiosk misuse (gateway and services refuse)", () => {
  const kioskHeader = { "x-lifelong-kiosk": VENUE };

  test("a kiosk session cannot get another learner's recommendations, transcript or history", async () => {
    const s = await gatewayCall("LearningRecordService", "RedeemKioskPass",
      { code: await kioskPass(mintToken("learner", "u000046")) }, kioskHeader);
    assert.equal(s.status, 200);
    const session = { ...kioskHeader, authorization: `Bearer ${s.body.token}` };
    const other = await gatewayCall("RecommendationService", "Recommend", { learner: "u000047", k: 3,
      context: { channel: "CHANNEL_KIOSK", kioskVenueId: VENUE } }, session);
    assert.equal(other.body.code, "permission_denied", JSON.stringify(other.body));
    const own = await gatewayCall("RecommendationService", "Recommend", { learner: "u000046", k: 3,
      context: { channel: "CHANNEL_KIOSK", kioskVenueId: VENUE } }, session);
    assert.equal(own.status, 200);
    // Another learner's transcript and history are refused; the signed-in learner's own are
    // shown (role table: kiosk, bound-learner scope).
    for (const [m, body] of [["GetTranscript", { learner: "u000047" }], ["ListStatements", { learner: "u000047" }]]) {
      const r = await gatewayCall("LearningRecordService", m, body, session);
      assert.equal(r.body.code, "permission_denied", `${m} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    }
    for (const [m, body] of [["GetTranscript", { learner: "u000046" }], ["ListStatements", { learner: "u000046" }]]) {
      const r = await gatewayCall("LearningRecordService", m, body, session);
      assert.equal(r.status, 200, `${m} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    }
  });

  test("学习路径: a kiosk session plans only for its own learner; the bare kiosk token for nobody", async () => {
    const s = await gatewayCall("LearningRecordService", "RedeemKioskPass",
      { code: await kioskPass(mintToken("learner", "u000034")) }, kioskHeader);
    assert.equal(s.status, 200);
    const session = { ...kioskHeader, authorization: `Bearer ${s.body.token}` };
    const body = (learner) => ({ learner, programmeId: "shequ_jiaoyu" });
    const other = await gatewayCall("RecommendationService", "PlanPath", body("u000035"), session);
    assert.equal(other.body.code, "permission_denied", JSON.stringify(other.body));
    const bare = await gatewayCall("RecommendationService", "PlanPath", body("u000035"), kioskHeader);
    assert.equal(bare.body.code, "permission_denied", JSON.stringify(bare.body));
    const own = await gatewayCall("RecommendationService", "PlanPath", body("u000034"), session);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    const list = await gatewayCall("CourseCatalogService", "ListProgrammes", {}, kioskHeader);
    assert.equal(list.status, 200, JSON.stringify(list.body));
  });

  test("a kiosk session records only for its own learner; the bare kiosk token records for nobody", async () => {
    const s = await gatewayCall("LearningRecordService", "RedeemKioskPass",
      { code: await kioskPass(mintToken("learner", "u000048")) }, kioskHeader);
    const session = { ...kioskHeader, authorization: `Bearer ${s.body.token}` };
    const st = (learner) => JSON.stringify({
      actor: { account: { homePage: "https://id.dongcheng.gov.cn", name: learner } },
      verb: { id: "http://adlnet.gov/expapi/verbs/registered" }, object: { id: COURSE_IRI + "c00001" },
      context: { extensions: { "https://lifelong.dongcheng.edu.cn/xapi/ext/venue": VENUE } } });
    const forOther = await gatewayCall("LearningRecordService", "RecordStatement", { statementJson: st("u000049") }, session);
    assert.equal(forOther.body.code, "permission_denied");
    assert.match(forOther.body.message, /statement_json\.actor/);
    const bare = await gatewayCall("LearningRecordService", "RecordStatement", { statementJson: st("u000049") }, kioskHeader);
    assert.equal(bare.body.code, "permission_denied");
    const own = await gatewayCall("LearningRecordService", "RecordStatement", { statementJson: st("u000048") }, session);
    assert.equal(own.status, 200, JSON.stringify(own.body));
  });

  test("a code is single use; an unconfigured or malformed venue and a session of another venue are refused", async () => {
    const code = await kioskPass(mintToken("learner", "u000050"));
    assert.equal((await gatewayCall("LearningRecordService", "RedeemKioskPass", { code }, kioskHeader)).status, 200);
    const again = await gatewayCall("LearningRecordService", "RedeemKioskPass", { code }, kioskHeader);
    assert.equal(again.body.code, "not_found");
    const unknown = await gatewayCall("CourseCatalogService", "ListCourses", {}, { "x-lifelong-kiosk": "no-such-venue" });
    assert.equal(unknown.body.code, "invalid_argument");
    assert.match(unknown.body.message, /x-lifelong-kiosk/);
    const bad = await gatewayCall("CourseCatalogService", "ListCourses", {}, { "x-lifelong-kiosk": "../etc" });
    assert.equal(bad.body.code, "invalid_argument");
    const s = await gatewayCall("LearningRecordService", "RedeemKioskPass",
      { code: await kioskPass(mintToken("learner", "u000050")) }, kioskHeader);
    const elsewhere = await gatewayCall("CourseCatalogService", "ListCourses", {},
      { "x-lifelong-kiosk": "dongsi-sqxx", authorization: `Bearer ${s.body.token}` });
    assert.equal(elsewhere.body.code, "permission_denied");
  });
});
