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
//     Retry-After and its connection closed;
//   - of those, the bytes of large bodies (over SMALL_REQUEST_BYTES, 64 KiB:
//     declared so by their Content-Length, or a chunked body once that much
//     has arrived) in all: at most the total less a reserve
//     (smallRequestBytesReserve) that only small bodies may use. Without it a
//     few addresses, each within its share, announcing 4 MiB bodies and
//     trickling them filled the whole budget, and every other caller (a
//     kiosk's sign-in, a recommendation: bodies of a few hundred bytes) was
//     refused for up to the request timeout. Small bodies count against the
//     total and their address's share only: they may use the whole budget,
//     the large bodies' part included, so the total still bounds them all; a
//     large body past its part is refused as above. A chunked body that grows
//     past 64 KiB moves what it holds into the large bodies' part then, or is
//     refused there.
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
  smallRequestBytesReserve: 32 << 20,  // less than maxHeldRequestBytes (see defaultSmallReserve)
});

// The small bodies' reserve when none is set: the default, or an eighth of a
// total set lower than its default (a total of 32 MiB or less, set before the
// reserve existed, keeps working after an upgrade instead of being refused).
export function defaultSmallReserve(maxHeldRequestBytes) {
  return Math.min(DEFAULT_LIMITS.smallRequestBytesReserve, Math.floor(maxHeldRequestBytes / 8));
}

// The largest body that is small: the reserve above is for bodies of at most
// this many bytes (every call a screen makes is far below it; a recorded
// statement, up to 1 MiB, may not be).
export const SMALL_REQUEST_BYTES = 64 << 10;

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

// Request-body bytes held, in all and per client address, and those of large
// bodies (over SMALL_REQUEST_BYTES) in all: at most maxTotal - smallReserve.
export class ByteBudget {
  constructor(maxTotal, maxPerClient, smallReserve = 0) {
    if (!(Number.isSafeInteger(smallReserve) && smallReserve >= 0 && smallReserve < maxTotal)) {
      throw new RangeError(`the small bodies' reserve (${smallReserve}) must be less than the total (${maxTotal})`);
    }
    this.maxTotal = maxTotal;
    this.maxPerClient = maxPerClient;
    this.maxLarge = maxTotal - smallReserve;
    this.total = 0;
    this.large = 0;  // of total, held by large bodies
    this.perClient = new Map();  // address -> bytes
  }

  // Takes n more bytes for `address`, of a large body when `large`; false
  // (and nothing taken) when any budget that applies would be passed.
  take(address, n, large = false) {
    const mine = this.perClient.get(address) || 0;
    if (this.total + n > this.maxTotal || mine + n > this.maxPerClient) return false;
    if (large && this.large + n > this.maxLarge) return false;
    this.total += n;
    if (large) this.large += n;
    this.perClient.set(address, mine + n);
    return true;
  }

  // Counts n bytes already taken for a small body as a large body's (a
  // chunked body that grew past SMALL_REQUEST_BYTES); false (nothing moved)
  // when the large bodies' part has no room for them.
  enlarge(n) {
    if (this.large + n > this.maxLarge) return false;
    this.large += n;
    return true;
  }

  give(address, n, large = false) {
    if (n <= 0) return;
    this.total -= n;
    if (large) this.large -= n;
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
    if (!h.large && h.read > SMALL_REQUEST_BYTES) {
      if (!h.budget.enlarge(h.held)) {
        h.refuse();
        return true;
      }
      h.large = true;
    }
    if (h.read > h.held) {
      if (!h.budget.take(h.address, h.read - h.held, h.large)) {
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
// adapter allocates it before reading; a larger one it refuses unread), a
// large body's from the start when over SMALL_REQUEST_BYTES (else from when
// that much has been read).
// false when the reservation does not fit (nothing taken: the caller answers
// 503); later, a body that outgrows the budget calls onRefused() once and
// its remaining bytes are dropped.
export function holdBody(req, res, { budget, address, declared, maxBytes, onRefused }) {
  const reserve = Number.isSafeInteger(declared) && declared > 0 && declared <= maxBytes ? declared : 0;
  const large = reserve > SMALL_REQUEST_BYTES;
  if (!budget.take(address, reserve, large)) return false;
  const h = {
    budget, address, read: 0, held: reserve, large, refused: false,
    refuse: () => {
      h.refused = true;
      budget.give(address, h.held, h.large);
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
      budget.give(address, h.held, h.large);
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
