// Regenerates the screenshots in docs/web/ from the running stack (ops/test_web.sh
// with WEB_SCREENSHOTS=1 runs it against its own small demo district).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { LANDSCAPE, PHONE, PORTRAIT, VAR, VENUE, WEB, kioskPass, launch, mintToken, newPage } from "./harness.mjs";

const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../docs/web");
fs.mkdirSync(OUT, { recursive: true });
const browser = await launch();
const shot = async (page, name) => {
  await page.screenshot({ path: path.join(OUT, `${name}.png`) });
  console.log(`docs/web/${name}.png`);
};

const kiosk = `${WEB}/kiosk/?venue=${VENUE}`;
for (const [name, vp] of [["kiosk-portrait", PORTRAIT], ["kiosk-landscape", LANDSCAPE]]) {
  const page = await newPage(browser, vp);
  await page.goto(kiosk);
  await page.waitForSelector("#cards .card");
  await shot(page, `${name}-home`);
  if (name === "kiosk-portrait") {
    await page.click("#cards .card");
    await page.waitForSelector("#course-title");
    await shot(page, `${name}-detail`);
    await page.click("#home");
    await page.waitForSelector("#sign-in");
    await page.click("#sign-in");
    const code = await kioskPass(mintToken("learner", "u000042"));
    for (const d of code.slice(0, 5)) await page.click(`[data-key="${d}"]`);
    await shot(page, `${name}-sign-in`);
    for (const d of code.slice(5)) await page.click(`[data-key="${d}"]`);
    await page.click("#submit");
    await page.waitForSelector("#sign-out");
    await page.waitForSelector("#cards .card");
    await shot(page, `${name}-for-you`);
  }
  await page.context().close();
}

// Learner-card sign-in: the card number, then the PIN (a demo card, services/demo/demo_cards.h).
{
  const [card, pin] = fs.readFileSync(`${VAR}/run/demo-cards.tsv`, "utf8").split("\n")[0].split("\t");
  const page = await newPage(browser, PORTRAIT);
  await page.goto(kiosk);
  await page.waitForSelector("#cards .card");
  await page.click("#sign-in");
  await page.click("#use-card");
  for (const d of card) await page.click(`[data-key="${d}"]`);
  await shot(page, "kiosk-portrait-card-number");
  await page.click("#next");
  for (const d of pin.slice(0, 3)) await page.click(`[data-key="${d}"]`);
  await shot(page, "kiosk-portrait-card-pin");
  await page.context().close();
}

const app = await newPage(browser, PHONE);
await app.goto(`${WEB}/app/`);
await app.fill("#token", mintToken("learner", "u000042"));
await app.click("#signin");
await app.waitForSelector("#cards .card");
await shot(app, "app-recommend");
for (const [hash, sel, name] of [["#/transcript", "#credits", "app-transcript"], ["#/pass", "#pass-code", "app-kiosk-pass"],
                                 ["#/data", "#export", "app-my-data"]]) {
  await app.goto(`${WEB}/app/${hash}`);
  await app.waitForSelector(sel);
  await shot(app, name);
}
await browser.close();
