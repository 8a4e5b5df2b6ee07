// The PROXY protocol, version 1 (HAProxy's `send-proxy`), for a gateway
// behind a TCP load balancer (ops/cluster.sh runs two gateways behind
// HAProxy). Behind it every connection would come from the balancer's address;
// the kiosk check (policy.js, --kiosk_clients) needs the browser's own. The
// balancer states it in one text line before the connection's first byte:
//
//   PROXY TCP4 <client ip> <balancer ip> <client port> <balancer port>\r\n
//
// Contract of proxyProtocolFront: a connection is served only when its TCP
// peer is one of `trusted` (the balancers; anyone else could name any address)
// and its first line is a well-formed v1 header (at most 107 bytes, within
// `headerTimeoutMs`); anything else is closed without a byte answered. The
// named client address is then what clientAddress(req.socket) returns. With
// `tls`, TLS is ended here after the header (the balancer passes TLS
// through), and `server` (plain HTTP) gets the decrypted connection.
import net from "node:net";
import tls from "node:tls";
import { Duplex } from "node:stream";
import { normaliseAddress } from "./policy.js";

export const MAX_HEADER_BYTES = 107;  // the v1 limit, CRLF included
const addressOf = new WeakMap();       // the connection `server` sees -> client address
const admittedHere = new WeakSet();    // connections `admitClient` counted (their release is the front's)

// parseProxyLine(line without CRLF) -> {address} or null when malformed.
// "PROXY UNKNOWN ..." (the balancer could not tell; the rest of the line is
// ignored, as the specification says) gives address "": no client address,
// so never a kiosk's.
export function parseProxyLine(line) {
  const parts = line.split(" ");
  if (parts[0] !== "PROXY") return null;
  if (parts[1] === "UNKNOWN") return { address: "" };
  if (parts.length !== 6) return null;
  const family = parts[1] === "TCP4" ? 4 : parts[1] === "TCP6" ? 6 : 0;
  if (!family || net.isIP(parts[2]) !== family || net.isIP(parts[3]) !== family) return null;
  for (const port of [parts[4], parts[5]]) {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(port) || +port > 65535) return null;
  }
  return { address: parts[2] };
}

// Whether the front counted this connection against its client's cap
// (proxyProtocolFront's admitClient): the server must not count it again.
export function admittedByFront(socket) {
  return admittedHere.has(socket);
}

// The client address of a connection: the one its PROXY header named, else
// the TCP peer's.
export function clientAddress(socket) {
  return addressOf.get(socket) ?? socket.remoteAddress ?? "";
}

// A Duplex over `socket` that first yields `rest` (the bytes read past the
// header): TLS then reads through JavaScript, where those bytes are, instead
// of from the socket's handle, where they no longer are.
function streamAfterHeader(socket, rest) {
  const d = new Duplex({
    read() { socket.resume(); },
    write(chunk, encoding, callback) { socket.write(chunk, encoding, callback); },
    final(callback) { socket.end(); callback(); },
    destroy(err, callback) { socket.destroy(); callback(err); },
  });
  socket.on("data", (chunk) => { if (!d.push(chunk)) socket.pause(); });
  socket.on("end", () => d.push(null));
  socket.on("error", (err) => d.destroy(err));
  socket.on("close", () => d.destroy());
  if (rest.length) d.push(rest);
  return d;
}

// proxyProtocolFront({server, trusted: Set<address>, tls: {cert, key} | null,
// headerTimeoutMs, onRefused(reason, peer), admitClient(address)}) -> net.Server
// to listen on. admitClient (optional) counts a connection against its
// client's cap as soon as the header names the client, before a TLS
// handshake (which may take up to headerTimeoutMs): it returns the function
// that gives the place back (called once, when the connection closes), or
// null when the client is at its cap (the connection is closed).
export function proxyProtocolFront({ server, trusted, tls: tlsOptions = null, headerTimeoutMs,
  onRefused = () => {}, admitClient = null }) {
  const secureContext = tlsOptions
    ? tls.createSecureContext({ cert: tlsOptions.cert, key: tlsOptions.key, minVersion: "TLSv1.2" }) : null;
  const front = net.createServer((socket) => {
    socket.on("error", () => socket.destroy());
    // Gone before it was handled (a balancer's health check closes at once).
    if (socket.remoteAddress === undefined) return socket.destroy();
    const peer = normaliseAddress(socket.remoteAddress);
    const refuse = (reason) => { onRefused(reason, peer); socket.destroy(); };
    if (!trusted.has(peer)) return refuse("not a trusted proxy (--proxy_protocol_from)");
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => refuse("no PROXY header in time"), headerTimeoutMs ?? 5000);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n");
      if (end < 0) {
        if (head.length >= MAX_HEADER_BYTES) { clearTimeout(timer); socket.removeListener("data", onData); refuse("PROXY header too long"); }
        return;
      }
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.pause();
      const parsed = end + 2 <= MAX_HEADER_BYTES ? parseProxyLine(head.subarray(0, end).toString("latin1")) : null;
      if (!parsed) return refuse("malformed PROXY header");
      const address = parsed.address;
      const rest = head.subarray(end + 2);
      let admitted = false;
      if (admitClient) {
        const release = admitClient(address);
        if (!release) return void socket.destroy();  // counted by admitClient, not logged: a flood would flood the log
        socket.once("close", release);
        admitted = true;
      }
      if (!secureContext) {
        if (rest.length) socket.unshift(rest);
        addressOf.set(socket, address);
        if (admitted) admittedHere.add(socket);
        server.emit("connection", socket);
        socket.resume();
        return;
      }
      const secure = new tls.TLSSocket(streamAfterHeader(socket, rest), { isServer: true, secureContext });
      const handshake = setTimeout(() => secure.destroy(), headerTimeoutMs ?? 5000);
      secure.on("error", () => secure.destroy());
      secure.once("close", () => clearTimeout(handshake));
      secure.once("secure", () => {
        clearTimeout(handshake);
        addressOf.set(secure, address);
        if (admitted) admittedHere.add(secure);
        server.emit("connection", secure);
      });
    };
    socket.on("data", onData);
    socket.once("close", () => clearTimeout(timer));
  });
  // `server` never listens itself; its connection tracking (headers and
  // request timeouts, closeIdleConnections) starts on "listening".
  front.on("listening", () => server.emit("listening"));
  return front;
}
