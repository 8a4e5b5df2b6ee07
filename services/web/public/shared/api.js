// Browser side of the gateway: the Connect protocol (JSON) over fetch.
// Unary calls POST the request message as JSON to /api/<service>/<method>;
// errors come back as {code, message} (https://connectrpc.com/docs/protocol).
// Server streams use the enveloped form (application/connect+json).

export class ApiError extends Error {
  // code: the Connect code name ("not_found", "permission_denied", ...), or
  // "network" when the gateway could not be reached at all.
  constructor(code, message) {
    super(message);
    this.code = code;
  }
  get network() {
    return this.code === "network" || this.code === "unavailable" || this.code === "deadline_exceeded";
  }
}

const PKG = "lifelong.v1.";

function headers(opts, contentType) {
  const h = { "content-type": contentType, "connect-protocol-version": "1",
              "connect-timeout-ms": String(opts.timeoutMs || 10000) };
  if (opts.token) h.authorization = `Bearer ${opts.token}`;
  if (opts.kiosk) h["x-lifelong-kiosk"] = opts.kiosk;
  return h;
}

// The browser's own deadline of a call: the gateway is told `timeoutMs`
// (connect-timeout-ms) and answers DEADLINE_EXCEEDED by then; this much later
// the browser stops waiting itself. Without it a gateway or balancer that took
// the connection and never answered (a hung process, a connection half-open
// after a fail-over) left "正在加载……" on the screen for good, with no 重试.
export const CLIENT_GRACE_MS = 2000;

// fetch(url, init) and read(response), given up on after timeoutMs +
// CLIENT_GRACE_MS: ApiError "network" when nothing came back, "deadline_exceeded"
// when the answer stopped coming.
async function exchange(url, init, timeoutMs, read) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs + CLIENT_GRACE_MS);
  try {
    let res;
    try {
      res = await fetch(url, { ...init, signal: abort.signal });
    } catch {
      throw new ApiError("network", abort.signal.aborted ? "服务器没有及时回应" : "无法连接服务器");
    }
    try {
      return await read(res);
    } catch (err) {
      if (abort.signal.aborted) throw new ApiError("deadline_exceeded", "服务器没有及时回应");
      throw err;
    }
  } finally {
    clearTimeout(timer);
  }
}

// call("RecommendationService", "Recommend", {...}, {token, kiosk, timeoutMs}) -> response message
export async function call(service, method, request, opts = {}) {
  return exchange(`/api/${PKG}${service}/${method}`, {
    method: "POST", headers: headers(opts, "application/json"), body: JSON.stringify(request || {}),
  }, opts.timeoutMs || 10000, async (res) => {
    let body;
    try {
      body = await res.json();
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(res.status >= 500 ? "unavailable" : "unknown", `HTTP ${res.status}`);
    }
    if (!res.ok) throw new ApiError(body.code || "unknown", body.message || `HTTP ${res.status}`);
    return body;
  });
}

// stream("LearningRecordService", "ExportLearner", {...}, opts) -> all messages
export async function stream(service, method, request, opts = {}) {
  const payload = new TextEncoder().encode(JSON.stringify(request || {}));
  const env = new Uint8Array(5 + payload.length);
  new DataView(env.buffer).setUint32(1, payload.length);
  env.set(payload, 5);
  const [res, buf] = await exchange(`/api/${PKG}${service}/${method}`, {
    method: "POST", headers: headers(opts, "application/connect+json"), body: env,
  }, opts.timeoutMs || 10000, async (r) => [r, new Uint8Array(await r.arrayBuffer())]);
  if (!res.ok) {
    let body = {};
    try { body = JSON.parse(new TextDecoder().decode(buf)); } catch { /* not JSON */ }
    throw new ApiError(body.code || "unknown", body.message || `HTTP ${res.status}`);
  }
  const out = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i + 5 <= buf.length;) {
    const flags = buf[i];
    const len = view.getUint32(i + 1);
    const msg = JSON.parse(new TextDecoder().decode(buf.subarray(i + 5, i + 5 + len)));
    i += 5 + len;
    if (flags & 0x02) {
      if (msg.error) throw new ApiError(msg.error.code || "unknown", msg.error.message || "stream failed");
    } else {
      out.push(msg);
    }
  }
  return out;
}

// What a person is told when a call failed: plain Chinese for every outcome,
// never the service's own message (English, for the log and the operator):
// a senior at a kiosk must not read "server overloaded (handler limit); retry
// later". signedIn: whether the call carried the person's own session (then
// UNAUTHENTICATED and PERMISSION_DENIED mean it expired or was refused; a
// walk-in kiosk's own credential refused means the kiosk itself is not set up).
export function failureText(err, { signedIn = false } = {}) {
  const code = err instanceof ApiError ? err.code : "network";
  if (code === "network" || code === "unavailable" || code === "deadline_exceeded") {
    return "网络连接出现问题，暂时无法显示。请稍后再试。";
  }
  if (code === "resource_exhausted") return "现在使用的人比较多，请稍等一会儿再试。";
  if (code === "unauthenticated" || code === "permission_denied") {
    return signedIn ? "登录已过期，请重新登录。" : "这台设备暂时无法使用这项服务，请联系工作人员。";
  }
  if (code === "not_found") return "没有找到要查看的内容，它可能已经取消或删除。";
  if (code === "invalid_argument" || code === "out_of_range") return "填写的内容不正确，请检查后再试。";
  if (code === "failed_precondition" || code === "already_exists" || code === "aborted") {
    return "现在不能完成这项操作，请稍后再试，或向工作人员求助。";
  }
  return "系统出现问题，请稍后再试，或向工作人员求助。";
}
