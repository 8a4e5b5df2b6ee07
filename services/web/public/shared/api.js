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

async function post(url, init) {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new ApiError("network", "无法连接服务器");
  }
}

// call("RecommendationService", "Recommend", {...}, {token, kiosk}) -> response message
export async function call(service, method, request, opts = {}) {
  const res = await post(`/api/${PKG}${service}/${method}`, {
    method: "POST", headers: headers(opts, "application/json"), body: JSON.stringify(request || {}),
  });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(res.status >= 500 ? "unavailable" : "unknown", `HTTP ${res.status}`);
  }
  if (!res.ok) throw new ApiError(body.code || "unknown", body.message || `HTTP ${res.status}`);
  return body;
}

// stream("LearningRecordService", "ExportLearner", {...}, opts) -> all messages
export async function stream(service, method, request, opts = {}) {
  const payload = new TextEncoder().encode(JSON.stringify(request || {}));
  const env = new Uint8Array(5 + payload.length);
  new DataView(env.buffer).setUint32(1, payload.length);
  env.set(payload, 5);
  const res = await post(`/api/${PKG}${service}/${method}`, {
    method: "POST", headers: headers(opts, "application/connect+json"), body: env,
  });
  const buf = new Uint8Array(await res.arrayBuffer());
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
