// Kiosk sign-in with a learner card: card number, then PIN (RedeemLearnerCard),
// giving the same kiosk session as a pass code; wrong PINs and mistyped
// numbers get plain messages; what a card session and the gateway refuse.
// The demo district binds cards for its first learners and lists them with
// their PINs in $LIFELONG_VAR/run/demo-cards.tsv (services/demo/demo_cards.h).
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  LANDSCAPE, PORTRAIT, VAR, VENUE, WEB, axeViolations, bearer, gatewayCall, grpcClients, launch, layoutProblems,
  mintToken, newPage, operatorToken,
} from "./harness.mjs";

const KIOSK = `${WEB}/kiosk/?venue=${VENUE}`;
const kioskHeader = { "x-lifelong-kiosk": VENUE };

// learner -> {card, pin}
function demoCards() {
  const cards = new Map();
  for (const line of fs.readFileSync(`${VAR}/run/demo-cards.tsv`, "utf8").split("\n")) {
    const [card, pin, learner] = line.split("\t");
    if (learner) cards.set(learner, { card, pin });
  }
  return cards;
}

let browser, cards;
before(async () => { browser = await launch(); cards = demoCards(); });
after(async () => { await browser?.close(); });

async function typeDigits(page, digits) {
  for (const d of digits) await page.click(`[data-key="${d}"]`);
}

async function openCardScreen(page) {
  await page.goto(KIOSK);
  await page.waitForSelector("#cards .card");
  await page.click("#sign-in");
  await page.click("#use-card");
  await page.waitForSelector("#card-number");
}

describe("kiosk sign-in with a learner card", () => {
  test("card number then PIN signs in: 为你推荐 and the learner's own credits", async () => {
    const learner = "u000060";
    const { card, pin } = cards.get(learner);
    assert.match(card, /^\d{12}$/);
    const page = await newPage(browser, PORTRAIT);
    await openCardScreen(page);
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(await layoutProblems(page), []);
    await typeDigits(page, card);
    assert.equal(await page.textContent("#card-number"), card.replace(/(\d{4})(?=\d)/g, "$1 "), "grouped as on the card");
    await page.click("#next");
    await page.waitForSelector("#pin");
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(await layoutProblems(page), []);
    await typeDigits(page, pin);
    assert.equal(await page.textContent("#pin"), "●".repeat(pin.length), "the PIN is never shown");
    assert.ok(!(await page.textContent("body")).includes(pin));
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/RedeemLearnerCard")), page.click("#submit")]);
    assert.equal(res.request().headers()["x-lifelong-kiosk"], VENUE);
    await page.waitForSelector("#sign-out");
    await page.waitForSelector("#cards .card, #empty");
    assert.equal(await page.textContent("h1"), "为你推荐");
    assert.equal((await page.textContent("#who")).trim(), `${learner} 您好`);
    // The session is the card holder's: their transcript, as the services compute it.
    await page.click("#my-learning");
    await page.waitForSelector("#credits");
    const t = await grpcClients().records.getTranscript({ learner }, bearer(mintToken("learner", learner)));
    assert.equal(await page.textContent("#credit-total"), `${t.credits} 学分`);
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(await layoutProblems(page), []);
    // 返回首页 signs out.
    await page.click("#home");
    await page.waitForSelector("#sign-in");
    assert.equal((await page.textContent("#who")).trim(), "");
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("landscape: both card screens fit without scrolling sideways", async () => {
    const page = await newPage(browser, LANDSCAPE);
    await openCardScreen(page);
    assert.deepEqual(await layoutProblems(page), []);
    await typeDigits(page, cards.get("u000061").card);
    await page.click("#next");
    await page.waitForSelector("#pin");
    assert.deepEqual(await layoutProblems(page), []);
    assert.deepEqual(await axeViolations(page), []);
    await page.context().close();
  });

  test("a wrong PIN and a mistyped card number get plain messages; the right PIN then signs in", async () => {
    const learner = "u000062";
    const { card, pin } = cards.get(learner);
    const page = await newPage(browser, PORTRAIT);
    await openCardScreen(page);
    // One digit changed: the check digit catches it before any look-up.
    const typo = card.slice(0, 5) + ((+card[5] + 1) % 10) + card.slice(6);
    await typeDigits(page, typo);
    await page.click("#next");
    await page.waitForSelector("#pin");
    await typeDigits(page, "2580");
    await page.click("#submit");
    await page.waitForSelector("#card-number");
    assert.match(await page.textContent("#sign-in-message"), /卡号不正确/);
    // The right number, a wrong PIN.
    await typeDigits(page, card);
    await page.click("#next");
    await page.waitForSelector("#pin");
    const wrong = pin === "975310" ? "975311" : "975310";
    await typeDigits(page, wrong);
    await page.click("#submit");
    await page.waitForFunction(() => document.getElementById("sign-in-message").textContent.length > 0);
    assert.match(await page.textContent("#sign-in-message"), /卡号或密码不正确/);
    assert.equal((await page.textContent("#who")).trim(), "");
    assert.deepEqual(await axeViolations(page), []);
    await typeDigits(page, pin);
    await page.click("#submit");
    await page.waitForSelector("#sign-out");
    assert.equal((await page.textContent("#who")).trim(), `${learner} 您好`);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
});

describe("learner-card misuse (gateway and services refuse)", () => {
  test("a card session reads its own learner only", async () => {
    const { card, pin } = cards.get("u000063");
    const s = await gatewayCall("LearningRecordService", "RedeemLearnerCard", { cardNumber: card, pin }, kioskHeader);
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.equal(s.body.learner, "u000063");
    const session = { ...kioskHeader, authorization: `Bearer ${s.body.token}` };
    for (const m of ["GetTranscript", "ListStatements"]) {
      const other = await gatewayCall("LearningRecordService", m, { learner: "u000064" }, session);
      assert.equal(other.body.code, "permission_denied", `${m}: ${JSON.stringify(other.body)}`);
      const own = await gatewayCall("LearningRecordService", m, { learner: "u000063" }, session);
      assert.equal(own.status, 200, `${m}: ${JSON.stringify(own.body)}`);
    }
    const rec = await gatewayCall("RecommendationService", "Recommend", { learner: "u000064", k: 3,
      context: { channel: "CHANNEL_KIOSK", kioskVenueId: VENUE } }, session);
    assert.equal(rec.body.code, "permission_denied");
  });

  test("binding is not bridged; a learner cannot bind a card directly; malformed input names the field", async () => {
    const learnerToken = mintToken("learner", "u000065");
    const viaGateway = await gatewayCall("LearningRecordService", "BindLearnerCard",
      { cardNumber: cards.get("u000065").card, learner: "u000065", pin: "2580" }, { authorization: `Bearer ${learnerToken}` });
    assert.equal(viaGateway.status, 404, "not bridged");
    const { records } = grpcClients();
    await assert.rejects(records.bindLearnerCard({ cardNumber: "110100000654", learner: "u000065", pin: "2580" },
                                                  bearer(learnerToken)), /permission/i);
    const malformed = await gatewayCall("LearningRecordService", "RedeemLearnerCard", { cardNumber: "12ab", pin: "2580" }, kioskHeader);
    assert.equal(malformed.body.code, "invalid_argument");
    assert.match(malformed.body.message, /^card_number:/);
    const noPin = await gatewayCall("LearningRecordService", "RedeemLearnerCard", { cardNumber: cards.get("u000065").card }, kioskHeader);
    assert.equal(noPin.body.code, "invalid_argument");
    assert.match(noPin.body.message, /^pin:/);
    // Without the kiosk header the gateway forwards no credential: the service refuses.
    const { card, pin } = cards.get("u000065");
    const anonymous = await gatewayCall("LearningRecordService", "RedeemLearnerCard", { cardNumber: card, pin }, {});
    assert.equal(anonymous.body.code, "unauthenticated");
    // The operator sees the card's state (no PIN in it).
    const status = await records.getLearnerCard({ cardNumber: cards.get("u000065").card }, bearer(operatorToken()));
    assert.equal(status.learner, "u000065");
    assert.ok(!("pin" in status));
  });
});
