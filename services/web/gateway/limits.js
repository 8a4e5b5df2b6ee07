// What one client, or all of them together, may hold of the gateway: open
// connections and request-body bytes read but not yet answered.
//
// Node's HTTP server takes any number of connections, lets a request's
// headers arrive for 60 s and its body for 300 s, and the Connect adapter
// reads each body (up to MAX_REQUEST_BYTES) into memory before the call is
// made: any client could hold thousands of connections and gigabytes of
// trickled bodies. The gateway therefore caps (flags in main.js, defaults in
// DEFAULT_LIMITS):
//   - connections in all (net.Server.maxConnections: over it a new connection
//     is closed at once) and per client address (the PROXY header's address
//     behind a balancer): over it the new connection is closed unanswered,
//     the client's others go on;
//   - the time a request's headers (headersTimeout) and the whole request,
//     body included (requestTimeout), may take to arrive: then 408 and the
//     connection is closed (the time to answer is not limited here: the
//     upstream deadline does that);
//   - the time a connection may go without a byte read or written while the
//     client owes something (inactivityTimeout: Node's socket timeout, re-armed
//     by every byte): a client that stops reading its answer (a large file, an
//     export) is cut within twice that (Node lets a write that moved since
//     it began run one period more), where it held its connection, and its place under
//     the caps above, for ever; one reading slowly but steadily is not. While
//     the gateway itself owes the answer and has nothing unsent (a call
//     waiting on its service) the upstream deadline governs instead;
//   - request-body bytes held, in all and per client address: a body counts
//     from its first byte (or, with a Content-Length, which the adapter
//     allocates at once, from its headers) until its response ends; a request
//     that would pass either budget is answered 503 RESOURCE_EXHAUSTED with
//     Retry-After and its connection closed.
// Single-threaded (Node's event loop): no locking.
import http from "node:http";

export const DEFAULT_LIMITS = Object.freeze({
  maxConnections: 8192,
  maxConnectionsPerClient: 256,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  inactivityTimeoutMs: 60_000,
  maxHeldRequestBytes: 256 << 20,
  maxHeldRequestBytesPerClient: 64 << 20,
});

// Seconds a refused client is told to wait (Retry-After).
export const RETRY_AFTER_S = 1;

// Open connections per client address; admit() false when the address is at
// its cap. Each admitted connection is released exactly once.
export class ConnectionCounter {
  constructor(maxPerClient) {
    this.maxPerClient = maxPerClient;
    this.open = new Map();  // address -> open connections
  }

  admit(address) {
    const n = this.open.get(address) || 0;
    if (n >= this.maxPerClient) return false;
    this.open.set(address, n + 1);
    return true;
  }

  release(address) {
    const n = (this.open.get(address) || 0) - 1;
    if (n > 0) this.open.set(address, n); else this.open.delete(address);
  }
}

// Request-body bytes held, in all and per client address.
export class ByteBudget {
  constructor(maxTotal, maxPerClient) {
    this.maxTotal = maxTotal;
    this.maxPerClient = maxPerClient;
    this.total = 0;
    this.perClient = new Map();  // address -> bytes
  }

  // Takes n more bytes for `address`; false (and nothing taken) when either
  // budget would be passed.
  take(address, n) {
    const mine = this.perClient.get(address) || 0;
    if (this.total + n > this.maxTotal || mine + n > this.maxPerClient) return false;
    this.total += n;
    this.perClient.set(address, mine + n);
    return true;
  }

  give(address, n) {
    if (n <= 0) return;
    this.total -= n;
    const mine = (this.perClient.get(address) || 0) - n;
    if (mine > 0) this.perClient.set(address, mine); else this.perClient.delete(address);
  }
}

const HOLD = Symbol("hold");

// The request class of the gateway's HTTP server (http.createServer's
// IncomingMessage option): every body chunk the parser reads goes through
// push(), where a request that holdBody() tracks is counted against its
// budget. Requests not tracked (static files, whose bodies Node discards)
// pass through unchanged.
export class CountedRequest extends http.IncomingMessage {
  push(chunk, encoding) {
    const h = this[HOLD];
    if (h === undefined) return super.push(chunk, encoding);
    // Refused: the rest is dropped while the connection closes, its end too,
    // so the adapter never takes a body with a hole in it for a whole one.
    if (h.refused) return true;
    if (chunk === null || chunk === undefined) return super.push(chunk, encoding);
    h.read += chunk.length;
    if (h.read > h.held) {
      if (!h.budget.take(h.address, h.read - h.held)) {
        h.refuse();
        return true;
      }
      h.held = h.read;
    }
    return super.push(chunk, encoding);
  }
}

// holdBody(req, res, {budget, address, declared, maxBytes, onRefused}) -> bool:
// counts req's body against `budget` until res or the connection closes,
// whichever comes first (a pipelined request's response waits in Node's
// queue, and never closes when the connection goes first). `declared` is the
// Content-Length (reserved at once when at most maxBytes: the Connect
// adapter allocates it before reading; a larger one it refuses unread).
// false when the reservation does not fit (nothing taken: the caller answers
// 503); later, a body that outgrows the budget calls onRefused() once and
// its remaining bytes are dropped.
export function holdBody(req, res, { budget, address, declared, maxBytes, onRefused }) {
  const reserve = Number.isSafeInteger(declared) && declared > 0 && declared <= maxBytes ? declared : 0;
  if (!budget.take(address, reserve)) return false;
  const h = {
    budget, address, read: 0, held: reserve, refused: false,
    refuse: () => {
      h.refused = true;
      budget.give(address, h.held);
      h.held = 0;
      onRefused();
    },
  };
  req[HOLD] = h;
  const socket = req.socket;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    if (!h.refused) {
      budget.give(address, h.held);
      req[HOLD] = undefined;  // answered: what is left of the body is Node's to discard
    }
    h.held = 0;
    res.off("close", release);
    if (socket) socket.off("close", release);
  };
  res.once("close", release);
  if (socket) socket.once("close", release);
  return true;
}
