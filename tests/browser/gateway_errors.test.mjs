// What a browser gets back from the gateway when a call fails or a path is
// not a page: a service's error as Connect's own (its code, message and
// details; none of the service's gRPC headers), a path under /api/ that is
// not bridged as Connect's UNIMPLEMENTED, and the security headers on every
// answer, redirects, /healthz, /metrics, 405s and the calls' own included.
// Stack-free: an in-process gateway in front of fake services
// (fake_stack.mjs).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, VENUE, learnerToken, startFakeStack } from "./fake_stack.mjs";
import {
  CourseCatalogService, LearningRecordService, createClient, createConnectTransport,
} from "../../services/web/testing.js";

const GET_COURSE = "/api/lifelong.v1.CourseCatalogService/GetCourse";
const EXPORT = "/api/lifelong.v1.LearningRecordService/ExportLearner";

// The response headers a browser must never see: the service's gRPC ones.
function grpcHeaders(headers) {
  const out = [];
  headers.forEach((v, k) => { if (/^grpc-/.test(k) || /grpc/.test(v)) out.push(`${k}: ${v}`); });
  return out;
}

// A Connect client's error for `run(client, callOptions)`.
async function failure(run) {
  try {
    await run();
  } catch (err) {
    return ConnectError.from(err);
  }
  assert.fail("the call succeeded");
}

describe("gateway: errors and headers", () => {
  let stack;
  before(async () => { stack = await startFakeStack(); });
  after(async () => { await stack?.close(); });

  const transports = () => [
    ["connect JSON", createConnectTransport({ baseUrl: `${stack.url}/api`, httpVersion: "1.1" })],
    ["connect binary", createConnectTransport({ baseUrl: `${stack.url}/api`, httpVersion: "1.1", useBinaryFormat: true })],
  ];
  const kiosk = { headers: { "x-lifelong-kiosk": VENUE } };

  test("a service's error reaches a Connect client with its own code, as JSON, without the service's gRPC headers", async () => {
    const saved = stack.answers.getCourse;
    try {
      for (const [code, message, status] of [
        [Code.NotFound, "course: no course with id nope", 404],
        [Code.InvalidArgument, "id: must be c followed by 5 digits", 400],
      ]) {
        stack.answers.getCourse = () => { throw new ConnectError(message, code); };
        for (const [name, transport] of transports()) {
          const err = await failure(() => createClient(CourseCatalogService, transport).getCourse({ id: "nope" }, kiosk));
          assert.equal(err.code, code, `${name}: ${Code[err.code]} for ${Code[code]}`);
          assert.equal(err.rawMessage, message, name);
          assert.match(err.metadata.get("content-type") || "", /^application\/json/, name);
          assert.deepEqual(grpcHeaders(err.metadata), [], name);
        }
        // What the browser's fetch sees (shared/api.js).
        const res = await fetch(`${stack.url}${GET_COURSE}`, {
          method: "POST", headers: { "content-type": "application/json", "x-lifelong-kiosk": VENUE }, body: '{"id":"nope"}',
        });
        assert.equal(res.status, status);
        assert.match(res.headers.get("content-type"), /^application\/json/);
        assert.deepEqual(grpcHeaders(res.headers), []);
        assert.equal(res.headers.get("cache-control"), "no-store");
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        assert.deepEqual(await res.json(), { code: Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase(), message });
      }
    } finally {
      stack.answers.getCourse = saved;
    }
  });

  test("a streamed call's error (ExportLearner) reaches a Connect client with its code, without gRPC headers", async () => {
    const saved = stack.answers.exportLearner;
    const auth = { headers: { authorization: `Bearer ${learnerToken("u000042")}` } };
    try {
      for (const midway of [false, true]) {
        stack.answers.exportLearner = function* () {
          if (midway) yield { json: new TextEncoder().encode("{}") };
          throw new ConnectError("learner: u000042 is not yours", Code.PermissionDenied);
        };
        for (const [name, transport] of transports()) {
          const got = [];
          const err = await failure(async () => {
            for await (const m of createClient(LearningRecordService, transport).exportLearner({ learner: "u000042" }, auth)) {
              got.push(m);
            }
          });
          assert.equal(err.code, Code.PermissionDenied, `${name}, midway ${midway}: ${Code[err.code]}`);
          assert.equal(got.length, midway ? 1 : 0);
          assert.deepEqual(grpcHeaders(err.metadata), [], `${name}, midway ${midway}`);
        }
        const env = new Uint8Array(5 + 2);
        new DataView(env.buffer).setUint32(1, 2);
        env.set(new TextEncoder().encode("{}"), 5);
        const res = await fetch(`${stack.url}${EXPORT}`, {
          method: "POST", headers: { "content-type": "application/connect+json", ...auth.headers }, body: env,
        });
        assert.match(res.headers.get("content-type"), /^application\/connect\+json/);
        assert.deepEqual(grpcHeaders(res.headers), []);
        const body = Buffer.from(await res.arrayBuffer());
        assert.doesNotMatch(body.toString("latin1"), /grpc/i, "the end of the stream names gRPC metadata");
      }
    } finally {
      stack.answers.exportLearner = saved;
    }
  });

  test("a path under /api/ that is not bridged is Connect's UNIMPLEMENTED (404, JSON)", async () => {
    for (const p of ["/api/lifelong.v1.LearningRecordService/ListAuditEvents", "/api/nothing", "/api/x.Y/Z"]) {
      const res = await fetch(`${stack.url}${p}`, {
        method: "POST", headers: { "content-type": "application/json", "x-lifelong-kiosk": VENUE }, body: "{}",
      });
      assert.equal(res.status, 404, p);
      assert.match(res.headers.get("content-type"), /^application\/json/, p);
      assert.equal((await res.json()).code, "unimplemented", p);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", p);
    }
    const [, transport] = transports()[0];
    const err = await failure(() => createClient(LearningRecordService, transport).listAuditEvents({}, kiosk));
    assert.equal(err.code, Code.Unimplemented, Code[err.code]);
    assert.equal(stack.calls.filter((c) => c.method === "listAuditEvents").length, 0);
  });

  test("every answer carries the security headers: redirects, /healthz, /metrics, pages, not found", async () => {
    for (const [p, status] of [["/", 302], ["/kiosk", 301], ["/app", 301], ["/healthz", 200], ["/metrics", 200],
      ["/kiosk/", 200], ["/nothing", 404]]) {
      const res = await fetch(`${stack.url}${p}`, { redirect: "manual" });
      assert.equal(res.status, status, p);
      assert.match(res.headers.get("content-security-policy") || "", /default-src 'self'.*frame-ancestors 'none'/, p);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", p);
      assert.equal(res.headers.get("referrer-policy"), "no-referrer", p);
      await res.arrayBuffer();
    }
  });

  // The headers are set once, before routing, for every request: answers no
  // route adds them to carry them too, the calls' own (a bridged call's
  // answer and its error, from the Connect router) included.
  test("every other answer carries the security headers too: 405, /api/ answers and errors", async () => {
    const saved = stack.answers.getCourse;
    try {
      stack.answers.getCourse = (req) => {
        if (req.id === "nope") throw new ConnectError("course: no course with id nope", Code.NotFound);
        return saved(req);
      };
      const call = { method: "POST", headers: { "content-type": "application/json", "x-lifelong-kiosk": VENUE } };
      for (const [name, p, init, status] of [
        ["405", "/kiosk/", { method: "POST", body: "x" }, 405],
        ["405 (DELETE)", "/nothing", { method: "DELETE" }, 405],
        ["UNIMPLEMENTED", "/api/nothing", { ...call, body: "{}" }, 404],
        ["a bridged call", GET_COURSE, { ...call, body: '{"id":"c00001"}' }, 200],
        ["a bridged call's error", GET_COURSE, { ...call, body: '{"id":"nope"}' }, 404],
      ]) {
        const res = await fetch(`${stack.url}${p}`, { redirect: "manual", ...init });
        assert.equal(res.status, status, name);
        assert.match(res.headers.get("content-security-policy") || "", /default-src 'self'.*frame-ancestors 'none'/, name);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", name);
        assert.equal(res.headers.get("referrer-policy"), "no-referrer", name);
        await res.arrayBuffer();
      }
    } finally {
      stack.answers.getCourse = saved;
    }
  });
});
