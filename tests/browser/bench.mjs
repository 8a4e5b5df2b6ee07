// Benchmarks of the web layer (docs/web.md, "Figures"); run by ops/bench_web.sh
// against a running stack and gateway (the same environment as the tests):
//   1. kiosk home screen usable: from navigation start to the first screen of
//      course cards (performance.mark("kiosk-usable") in kiosk.js), measured in
//      chromium; cold (fresh browser context, empty cache) and warm (reload).
//   2. gateway overhead per call: the same request sequentially N times direct
//      to the gRPC service and through the gateway (Connect JSON over HTTP/1.1,
//      as the browser sends it), median and p90 of each and the difference.
// Prints a Markdown table; NAVS and CALLS set the sample counts.

import { performance as perf } from "node:perf_hooks";
import { LANDSCAPE, PORTRAIT, VENUE, WEB, bearer, grpcClients, launch, newPage, operatorToken } from "./harness.mjs";

const NAVS = Number(process.env.NAVS || 10);
const CALLS = Number(process.env.CALLS || 300);

const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const fmt = (x) => x.toFixed(x < 10 ? 2 : 0);

async function usable(page) {
  await page.waitForSelector("#cards .card");
  return page.evaluate(() => performance.getEntriesByName("kiosk-usable")[0].startTime);
}

const browser = await launch();
const rows = [];
for (const [name, vp] of [["portrait", PORTRAIT], ["landscape", LANDSCAPE]]) {
  const cold = [], warm = [];
  for (let i = 0; i < NAVS; i++) {
    const page = await newPage(browser, vp);
    await page.goto(`${WEB}/kiosk/?venue=${VENUE}`);
    cold.push(await usable(page));
    await page.reload();
    warm.push(await usable(page));
    await page.context().close();
  }
  rows.push([`kiosk home usable, ${name}, cold`, cold], [`kiosk home usable, ${name}, warm`, warm]);
}
await browser.close();
console.log(`| kiosk home screen (${NAVS} navigations each) | median ms | p90 ms | max ms |`);
console.log("| --- | --- | --- | --- |");
for (const [name, xs] of rows) console.log(`| ${name} | ${fmt(q(xs, 0.5))} | ${fmt(q(xs, 0.9))} | ${fmt(Math.max(...xs))} |`);

const token = operatorToken();
const { recommend, catalog } = grpcClients();
const calls = [
  ["Recommend (kiosk walk-in, k=12)", "RecommendationService/Recommend",
    { learner: "", k: 12, context: { channel: "CHANNEL_KIOSK", kioskVenueId: VENUE } },
    () => recommend.recommend({ learner: "", k: 12, context: { channel: 1, kioskVenueId: VENUE } }, bearer(token))],
  ["GetCourse", "CourseCatalogService/GetCourse", { id: "c00001" }, () => catalog.getCourse({ id: "c00001" }, bearer(token))],
];
console.log(`\n| call (${CALLS} sequential) | direct gRPC median ms | via gateway median ms | overhead median ms | direct p90 | gateway p90 |`);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [name, path, req, direct] of calls) {
  for (let i = 0; i < 20; i++) await direct();  // warm up both paths
  const viaGateway = async () => {
    const res = await fetch(`${WEB}/api/lifelong.v1.${path}`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(req) });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < 20; i++) await viaGateway();
  const d = [], g = [];
  for (let i = 0; i < CALLS; i++) {
    let t = perf.now(); await direct(); d.push(perf.now() - t);
    t = perf.now(); await viaGateway(); g.push(perf.now() - t);
  }
  console.log(`| ${name} | ${fmt(q(d, 0.5))} | ${fmt(q(g, 0.5))} | ${fmt(q(g, 0.5) - q(d, 0.5))} | ${fmt(q(d, 0.9))} | ${fmt(q(g, 0.9))} |`);
}
