// The kiosk and the app in chromium against an in-process gateway and fake
// services (fake_stack.mjs): what a shared kiosk, a senior and a shared phone
// meet when the device sleeps, a service refuses or never answers, and the
// next person signs in. No stack is needed (Debian's chromium is).
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, VENUE, learnerToken, startFakeStack } from "./fake_stack.mjs";
import { PHONE, PORTRAIT, launch, newPage } from "./harness.mjs";

const LATIN = /[A-Za-z]/;
const PUBLIC = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../services/web/public");

async function kioskSignIn(page) {
  await page.click("#sign-in");
  for (const d of "12345678") await page.click(`[data-key="${d}"]`);
  await page.click("#submit");
  await page.waitForSelector("#my-learning");
}

async function appSignIn(page, url, learner, query = "") {
  await page.goto(`${url}/app/${query}#/signin`);
  await page.fill("#token", learnerToken(learner));
  await page.click("#signin");
  await page.waitForSelector("#cards");
}

describe("screens against fake services", () => {
  let stack;
  let browser;
  before(async () => {
    stack = await startFakeStack();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  test("kiosk: a touch after the idle sign-out fell due while the device slept signs out, not acts for the last learner", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PORTRAIT);
    await page.clock.install();
    await page.goto(`${stack.url}/kiosk/?venue=${VENUE}`);  // idle 60 s
    await page.waitForSelector("#cards");
    await kioskSignIn(page);
    assert.match(await page.textContent("#who"), /u000042/);
    // The device sleeps for ten minutes: the wall clock moves, the page's timers do not.
    const now = await page.evaluate(() => Date.now());
    await page.clock.setSystemTime(now + 10 * 60_000);
    stack.calls.length = 0;
    await page.click("#my-learning");  // the next visitor's first touch
    await page.waitForSelector("#sign-in, #credits, #not-here");
    assert.equal(await page.textContent("h1"), "这里的课程");
    assert.equal(await page.textContent("#who"), "");
    assert.doesNotMatch(await page.textContent("#screen"), /u000042/);
    assert.deepEqual(stack.calls.filter((c) => c.req.learner === "u000042").map((c) => c.method), [],
                     "nothing was asked in the previous learner's name");
    // Signed in again, then the page is shown again after the sign-out fell due (no touch at all).
    await kioskSignIn(page);
    await page.clock.setSystemTime(now + 20 * 60_000);
    await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
    await page.waitForSelector("#sign-in");
    assert.equal(await page.textContent("#who"), "");
    // A touch in time still works: the fresh walk-in screen takes the first tap.
    await page.click("#sign-in");
    await page.waitForSelector('[data-key="1"]');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("kiosk: a gateway that takes the call and never answers ends in 重试, not 正在加载 for good", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PORTRAIT);
    await page.clock.install();
    // Every call is taken and never answered.
    let hold = true;
    const held = [];
    let wake = () => {};
    await page.route("**/api/**", (route) => {
      if (!hold) return route.continue();
      held.push(route.request().url().split("/").pop());
      wake();
      return undefined;
    });
    const heldCall = async (method) => {
      while (!held.includes(method)) await new Promise((r) => { wake = r; });
    };
    await page.goto(`${stack.url}/kiosk/?venue=${VENUE}`);
    await heldCall("Recommend");
    await page.clock.runFor(6_500);  // Recommend's 4 s and the browser's 2 s grace: the catalog instead
    await heldCall("ListCourses");
    held.length = 0;
    await heldCall("ListCourses");
    await page.clock.runFor(12_500);  // its 10 s and the grace
    await page.waitForSelector("#retry", { timeout: 5000 });
    assert.match(await page.textContent('[role="alert"]'), /网络连接出现问题/);
    hold = false;
    await page.click("#retry");
    await page.waitForSelector("#cards");
    await page.context().close();
  });

  test("kiosk: refusals are told in plain Chinese, never in the service's English", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PORTRAIT);
    const saved = { ...stack.answers };
    try {
      // The services shed load (RESOURCE_EXHAUSTED): a walk-in is told to wait a moment.
      stack.answers.recommend = () => {
        throw new ConnectError("server overloaded (handler limit); retry later", Code.ResourceExhausted);
      };
      await page.goto(`${stack.url}/kiosk/?venue=${VENUE}`);
      await page.waitForSelector("#retry");
      let alert = await page.textContent('[role="alert"]');
      assert.doesNotMatch(alert, LATIN, alert);
      assert.match(alert, /使用的人比较多/);
      // The kiosk's own credential refused: nobody signed in, so not "登录已过期".
      stack.answers.recommend = () => { throw new ConnectError("kiosk-dongsi-sqxx is revoked", Code.Unauthenticated); };
      await page.click("#retry");
      await page.waitForSelector("#retry");
      alert = await page.textContent('[role="alert"]');
      assert.doesNotMatch(alert, /登录已过期|[A-Za-z]/, alert);
      stack.answers.recommend = saved.recommend;
      await page.click("#retry");
      await page.waitForSelector("#cards");
      // Too many wrong codes from this kiosk: said so, not "网络连接出现问题".
      stack.answers.redeemKioskPass = () => {
        throw new ConnectError("code: too many wrong codes from kiosk kiosk-dongsi-sqxx; retry in 60 s", Code.ResourceExhausted);
      };
      await page.click("#sign-in");
      for (const d of "12345678") await page.click(`[data-key="${d}"]`);
      await page.click("#submit");
      await page.waitForFunction(() => document.querySelector("#sign-in-message").textContent !== "");
      const message = await page.textContent("#sign-in-message");
      assert.match(message, /次数太多/);
      assert.doesNotMatch(message, /网络|[A-Za-z]/);
      stack.answers.redeemKioskPass = saved.redeemKioskPass;
      await page.click("#home");
      await page.waitForSelector("#sign-in");
      // A session that expired while the learner looked: "重新登录" opens the keypad
      // (a 重试 ran the signed-in screen with no session and said the network was down).
      await kioskSignIn(page);
      stack.answers.getTranscript = () => { throw new ConnectError("token expired", Code.Unauthenticated); };
      await page.click("#my-learning");
      await page.waitForSelector("#sign-in-again");
      alert = await page.textContent('[role="alert"]');
      assert.match(alert, /登录已过期/);
      assert.equal(await page.textContent("#who"), "");
      await page.click("#sign-in-again");
      await page.waitForSelector('[data-key="1"]');
      assert.deepEqual(page.errors, []);
    } finally {
      Object.assign(stack.answers, saved);
      await page.context().close();
    }
  });

  test("kiosk: card sign-in says the card is locked only for the card's lock, and busy for load shedding", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PORTRAIT);
    const saved = stack.answers.redeemLearnerCard;
    try {
      await page.goto(`${stack.url}/kiosk/?venue=${VENUE}`);
      await page.waitForSelector("#cards .card");
      await page.click("#sign-in");
      await page.click("#use-card");
      for (const d of "123456789012") await page.click(`[data-key="${d}"]`);
      await page.click("#next");
      await page.waitForSelector("#pin");
      const LOCKED = /密码输错的次数太多/;
      const BUSY = /使用的人比较多/;
      // Each refusal as the record service (learner_cards.cc, records_service.cc,
      // common/overload.cc) words it, and what the PIN screen must then say.
      for (const [message, want] of [
        ["server overloaded: every handler thread is busy (limit of calls in progress reached); retry after 1000 ms", BUSY],
        ["too many calls without a valid credential from 127.0.0.1; slow down (token expired)", BUSY],
        ["card_number: this card is locked after too many wrong PINs; retry in 14m59s", LOCKED],
        ["card_number: too many failed card sign-ins from kiosk kiosk-dongsi-sqxx; retry in 1m", LOCKED],
        [null, BUSY],  // the gateway's own refusal (over its request-body budget)
      ]) {
        if (message === null) {
          await page.route("**/RedeemLearnerCard", (route) => route.fulfill({
            status: 503, contentType: "application/json", headers: { "retry-after": "1" },
            body: '{"code":"resource_exhausted","message":"the gateway holds too many request bytes; retry in 1 s"}',
          }));
        } else {
          stack.answers.redeemLearnerCard = () => { throw new ConnectError(message, Code.ResourceExhausted); };
        }
        await page.evaluate(() => { document.querySelector("#sign-in-message").textContent = ""; });
        for (const d of "1234") await page.click(`[data-key="${d}"]`);
        await page.click("#submit");
        await page.waitForFunction(() => document.querySelector("#sign-in-message").textContent !== "");
        const shown = await page.textContent("#sign-in-message");
        assert.match(shown, want, `${message}: ${shown}`);
        assert.doesNotMatch(shown, want === BUSY ? LOCKED : BUSY, `${message}: ${shown}`);
        assert.doesNotMatch(shown, LATIN, shown);
      }
      assert.deepEqual(page.errors, []);
    } finally {
      stack.answers.redeemLearnerCard = saved;
      await page.context().close();
    }
  });

  test("kiosk: with the recommender down, walk-ins get the venue's courses from the catalog, not an error", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PORTRAIT);
    const saved = { ...stack.answers };
    try {
      stack.answers.recommend = () => { throw new ConnectError("connect ECONNREFUSED 10.0.0.3:7003", Code.Unavailable); };
      stack.answers.listCourses = (req) => ({
        courses: req.pageSize === 1 ? [] : [{ id: "c9", title: "老年智能手机课", category: "智能手机与数字素养", mode: 1,
                                               venue: { id: VENUE, name: "东四街道社区学校" }, capacity: 30, seatsTaken: 12 }],
      });
      stack.calls.length = 0;
      await page.goto(`${stack.url}/kiosk/?venue=${VENUE}`);
      await page.waitForSelector("#cards, #retry");
      assert.equal(await page.$("#retry"), null, "an error screen instead of courses");
      assert.match(await page.textContent("#cards"), /老年智能手机课.*剩余 18 个名额/);
      assert.match(await page.textContent("#from-catalog"), /推荐功能暂时不能使用/);
      const listed = stack.calls.filter((c) => c.method === "listCourses" && c.req.pageSize !== 1).at(-1);
      assert.equal(listed.req.venueId, VENUE);
      // The age group still narrows the list.
      await page.click('[data-age="SENIORS"]');
      await page.waitForSelector('[data-age="SENIORS"][aria-pressed="true"]');
      assert.equal(stack.calls.filter((c) => c.method === "listCourses").at(-1).req.audience, 4);
      await page.click('#cards [data-course="c9"]');
      await page.waitForSelector("#course-title");
      assert.deepEqual(page.errors, []);
    } finally {
      Object.assign(stack.answers, saved);
      await page.context().close();
    }
  });

  test("app: refusals are told in plain Chinese", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PHONE);
    const saved = { ...stack.answers };
    try {
      await appSignIn(page, stack.url, "u000042");
      stack.answers.recordStatement = () => {
        throw new ConnectError("statement_json.object: course c1 is archived", Code.FailedPrecondition);
      };
      await page.click('#cards [data-course="c1"]');
      await page.waitForSelector("#enrol");
      await page.click("#enrol");
      await page.waitForSelector("#retry");
      const alert = await page.textContent('[role="alert"]');
      assert.doesNotMatch(alert, LATIN, alert);
      assert.match(alert, /现在不能完成/);
    } finally {
      Object.assign(stack.answers, saved);
      await page.context().close();
    }
  });

  test("app: the next learner on the same phone does not inherit the previous one's filters", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PHONE);
    await appSignIn(page, stack.url, "u000001");
    stack.calls.length = 0;
    await page.selectOption("#f-category", "老年教育");
    await page.waitForFunction(() => document.querySelector("#f-category")?.value === "老年教育");
    await page.waitForSelector("#cards, #empty");
    assert.deepEqual(stack.calls.at(-1).req.filter.categories, ["老年教育"]);
    await page.goto(`${stack.url}/app/#/data`);
    await page.click("#sign-out");
    await page.waitForSelector("#token");
    stack.calls.length = 0;
    await page.fill("#token", learnerToken("u000002"));
    await page.click("#signin");
    await page.waitForSelector("#cards");
    const rec = stack.calls.filter((c) => c.method === "recommend").at(-1);
    assert.equal(rec.req.learner, "u000002");
    assert.deepEqual(rec.req.filter.categories, []);
    assert.equal(await page.inputValue("#f-category"), "");
    await page.context().close();
  });

  // The app's idle sign-out (15 minutes, ?idle= for tests): the next person on a shared phone or
  // library PC does not inherit the previous learner's signed-in app.
  const IDLE_NOTICE = "因长时间未操作，已安全退出，请重新登录。";
  const appToken = (page) => page.evaluate(() => sessionStorage.getItem("lifelong.token"));
  async function assertIdleSignedOut(page) {
    await page.waitForSelector("#token", { timeout: 5000 });
    assert.equal(await appToken(page), null, "the token is still in sessionStorage");
    assert.equal((await page.textContent("#idle-notice")).trim(), IDLE_NOTICE);
    assert.equal(await page.textContent("#who"), "");
    assert.equal(await page.isHidden("#tabs"), true);
    assert.equal(await page.evaluate(() => location.hash), "#/signin");
  }

  test("app: after the idle limit without activity the learner is signed out, filters reset, and told why", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PHONE);
    await page.clock.install();
    await appSignIn(page, stack.url, "u000071", "?idle=30");
    await page.selectOption("#f-category", "老年教育");  // the last activity
    await page.waitForFunction(() => document.querySelector("#f-category")?.value === "老年教育");
    await page.waitForSelector("#cards, #empty");
    await page.clock.runFor(25_000);
    assert.equal(await page.locator("#token").count(), 0, "signed out before the limit");
    assert.ok(await appToken(page));
    await page.clock.runFor(6_000);  // past 30 s
    await assertIdleSignedOut(page);
    assert.doesNotMatch(await page.textContent("#screen"), /u000071/);
    // The next learner starts unfiltered, and the notice is gone once they are in.
    stack.calls.length = 0;
    await page.fill("#token", learnerToken("u000043"));
    await page.click("#signin");
    await page.waitForSelector("#cards");
    const rec = stack.calls.filter((c) => c.method === "recommend").at(-1);
    assert.equal(rec.req.learner, "u000043");
    assert.deepEqual(rec.req.filter.categories, []);
    assert.equal(await page.locator("#idle-notice").count(), 0);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("app: a wheel, key or touch before the idle limit keeps the learner signed in", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PHONE, { hasTouch: true });
    await page.clock.install();
    await appSignIn(page, stack.url, "u000042", "?idle=30");
    const stillIn = async (what) => {
      assert.equal(await page.locator("#token").count(), 0, `signed out although ${what} came in time`);
      assert.equal(await page.textContent("#who"), "u000042");
    };
    await page.clock.runFor(20_000);
    await page.mouse.move(100, 300);
    // The wheel reaches the page after mouse.wheel returns: wait for it before the clock moves on.
    await page.evaluate(() => { window.wheeled = new Promise((r) => addEventListener("wheel", () => r(), { once: true })); });
    await page.mouse.wheel(0, 200);
    await page.evaluate(() => window.wheeled);
    await page.clock.runFor(20_000);  // 40 s since sign-in, 20 s since the wheel
    await stillIn("a wheel");
    await page.keyboard.press("Shift");
    await page.clock.runFor(20_000);
    await stillIn("a key");
    await page.tap("h1");
    await page.clock.runFor(20_000);
    await stillIn("a touch");
    await page.click('a[data-tab="transcript"]');  // and an ordinary tap on a tab does what it says
    await page.waitForSelector("#credits");
    // No activity since: 30 s later the app signs out after all.
    await page.clock.runFor(31_000);
    await assertIdleSignedOut(page);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("app: a tap after the idle sign-out fell due while the phone slept signs out, not acts for the last learner", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PHONE, { hasTouch: true });
    await page.clock.install();
    await appSignIn(page, stack.url, "u000042");  // the default limit: 15 minutes
    const now = await page.evaluate(() => Date.now());
    // 14 minutes of sleep: still signed in, and the tap works.
    await page.clock.setSystemTime(now + 14 * 60_000);
    await page.tap('a[data-tab="history"]');
    await page.waitForSelector("#history, #history-empty");
    await page.goto(`${stack.url}/app/#/`);
    await page.waitForSelector("#cards");
    // Then 16 minutes of sleep: the wall clock moves, the page's timers do not.
    await page.clock.setSystemTime(now + 30 * 60_000);
    stack.calls.length = 0;
    await page.evaluate(() => {
      window.hashes = [];
      addEventListener("hashchange", () => window.hashes.push(location.hash));
    });
    await page.tap('#cards [data-course="c1"]');  // the next person's first touch
    await assertIdleSignedOut(page);
    await page.clock.runFor(1_000);
    assert.deepEqual(await page.evaluate(() => window.hashes), ["#/signin"], "the tap (or its click) still pressed the card");
    assert.deepEqual(stack.calls.filter((c) => c.req.learner === "u000042" || c.method === "getCourse").map((c) => c.method), [],
                     "nothing was asked in the previous learner's name");
    // A key when overdue: signs out, and Enter does not press the focused card.
    await page.fill("#token", learnerToken("u000042"));
    await page.click("#signin");
    await page.waitForSelector("#cards");
    await page.focus('#cards [data-course="c1"]');
    await page.clock.setSystemTime(now + 60 * 60_000);
    stack.calls.length = 0;
    await page.evaluate(() => { window.hashes = []; });
    await page.keyboard.press("Enter");
    await assertIdleSignedOut(page);
    await page.clock.runFor(1_000);
    assert.deepEqual(await page.evaluate(() => window.hashes), ["#/signin"], "the key still pressed the card");
    assert.deepEqual(stack.calls.map((c) => c.method), []);
    // The page shown again after the sign-out fell due (no touch at all) signs out too.
    await page.fill("#token", learnerToken("u000042"));
    await page.click("#signin");
    await page.waitForSelector("#cards");
    await page.clock.setSystemTime(now + 90 * 60_000);
    await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
    await assertIdleSignedOut(page);
    // A touch on the fresh sign-in screen works as usual.
    await page.fill("#token", learnerToken("u000043"));
    await page.tap("#signin");
    await page.waitForSelector("#cards");
    assert.equal(await page.textContent("#who"), "u000043");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("app: a tab reloaded (a phone that discarded it) or a back button after the idle deadline does not restore the last learner", { timeout: 90_000 }, async () => {
    const page = await newPage(browser, PHONE);
    await page.clock.install();
    await appSignIn(page, stack.url, "u000042");
    const now = await page.evaluate(() => Date.now());
    // A reload in time keeps the learner signed in.
    await page.reload();
    await page.waitForSelector("#cards");
    assert.equal(await page.textContent("#who"), "u000042");
    await page.clock.setSystemTime(now + 16 * 60_000);
    stack.calls.length = 0;
    await page.reload();
    await assertIdleSignedOut(page);
    assert.deepEqual(stack.calls.filter((c) => c.req.learner === "u000042").map((c) => c.method), []);
    // Nor does the browser's back button (no touch on the page) when overdue.
    await page.fill("#token", learnerToken("u000042"));
    await page.click("#signin");
    await page.waitForSelector("#cards");
    await page.click('a[data-tab="transcript"]');
    await page.waitForSelector("#credits");
    await page.clock.setSystemTime(now + 40 * 60_000);
    stack.calls.length = 0;
    await page.goBack();
    await assertIdleSignedOut(page);
    assert.deepEqual(stack.calls.filter((c) => c.req.learner === "u000042").map((c) => c.method), []);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("app: the service worker keeps the good app shell when the network answers an error", { timeout: 90_000 }, async () => {
    // A gateway of its own, serving a copy of the pages that the test can break.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "app-shell-"));
    fs.cpSync(PUBLIC, dir, { recursive: true });
    const own = await startFakeStack({ publicDir: dir });
    const context = await browser.newContext({ viewport: PHONE });
    try {
      const page = await context.newPage();
      await page.goto(`${own.url}/app/`);
      await page.evaluate(() => navigator.serviceWorker.ready);
      await page.reload();
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
      const good = fs.readFileSync(`${dir}/app/app.css`, "utf8");
      fs.rmSync(`${dir}/app/app.css`);  // mid-deployment: the gateway answers 404
      const fetched = await page.evaluate(async () => {
        const r = await fetch("/app/app.css");
        return { status: r.status, text: await r.text() };
      });
      assert.equal(fetched.status, 200);
      assert.equal(fetched.text, good);
      const cached = await page.evaluate(async () => {
        const r = await caches.match("/app/app.css");
        return r && { status: r.status, text: await r.text() };
      });
      assert.deepEqual(cached, { status: 200, text: good }, "the cached shell was replaced by the error");
    } finally {
      await context.close();
      await own.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("gateway: answers to calls may not be cached (no-store, nosniff)", { timeout: 90_000 }, async () => {
    const res = await fetch(`${stack.url}/api/lifelong.v1.LearningRecordService/RedeemKioskPass`, {
      method: "POST", headers: { "content-type": "application/json", "x-lifelong-kiosk": VENUE }, body: '{"code":"12345678"}',
    });
    assert.equal(res.status, 200);
    assert.ok((await res.json()).token);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  });
});
