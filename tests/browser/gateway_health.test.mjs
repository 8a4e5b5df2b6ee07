// GET /healthz answers anyone without credentials (balancers, probes): one
// check of the three backends (an Echo each) serves every request within a
// second of its start, so a client sending many cannot multiply upstream
// calls; a later request checks again and sees a backend gone. Stack-free
// (fake services, tests/browser/fake_stack.mjs); no browser.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, startFakeStack } from "./fake_stack.mjs";

const echoes = (calls) => calls.filter((c) => c.method === "echo").length;

test("/healthz: many requests at once share one check of the backends; a later one sees a backend gone", async () => {
  const stack = await startFakeStack();
  try {
    const answers = await Promise.all(Array.from({ length: 40 }, () => fetch(`${stack.url}/healthz`)));
    for (const r of answers) {
      assert.equal(r.status, 200);
      assert.equal((await r.json()).status, "SERVING");
    }
    assert.equal(echoes(stack.calls), 3, "one Echo per backend for 40 requests");

    stack.answers.echo = () => { throw new ConnectError("down", Code.Unavailable); };
    await new Promise((r) => setTimeout(r, 1100));
    const later = await fetch(`${stack.url}/healthz`);
    assert.equal(later.status, 503);
    assert.equal((await later.json()).status, "NOT_SERVING");
    assert.equal(echoes(stack.calls), 6, "a check a second later asks again");
  } finally {
    await stack.close();
  }
});
