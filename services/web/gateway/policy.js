// Credential policy of the web gateway: which bearer token a browser call is
// forwarded with, and the few checks the gateway makes itself before a call
// reaches a service. Pure functions, no I/O (tested by tests/browser/gateway.test.mjs,
// "credential policy (pure)").
//
// The gateway holds no authority of its own (docs/security.md, "Web gateway"):
//   - a call that carries `authorization: Bearer <token>` (the app's learner, a
//     kiosk's session for a signed-in learner) is forwarded with exactly that token;
//   - a call from a kiosk page (header `x-lifelong-kiosk: <venue id>`) without a
//     token of its own is forwarded with the token of that venue's kiosk, which
//     the operator configured (--kiosk_token_dir); only clients whose address
//     --kiosk_clients binds to that venue, calling the gateway by a name in
//     --kiosk_hosts, may act as that venue's kiosk (the venue: a kiosk at one
//     venue must not check learners in at another, nor spend every venue's
//     PIN-guessing budget; the name: a web page whose DNS name an attacker
//     rebinds to the gateway's address runs in an allowed browser as
//     same-origin, but its requests carry the attacker's host name);
//   - a kiosk's own token or session (role kiosk) is forwarded only from an
//     address bound to the venue it names;
//   - anything else is forwarded without credentials (services with
//     authentication on answer UNAUTHENTICATED).

import net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";

export const KIOSK_HEADER = "x-lifelong-kiosk";
const BEARER_RE = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/;
const VENUE_RE = /^[a-z0-9_-]{1,64}$/;

// The JWT payload of a bearer token, decoded but NOT verified (the services
// verify signatures; the gateway only reads claims to refuse early what the
// services would also refuse or what a kiosk must not do). null when malformed.
export function peekClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = Buffer.from(parts[1], "base64url").toString("utf8");
    const claims = JSON.parse(json);
    return claims && typeof claims === "object" && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

// The host name of a Host header, without the port, lower-cased
// ("[::1]:8090" -> "::1", "Kiosk.Example:443" -> "kiosk.example"); "" when absent.
export function hostName(host) {
  if (typeof host !== "string" || host === "") return "";
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end > 0 ? h.slice(1, end) : "";
  }
  const colon = h.indexOf(":");
  if (colon >= 0 && colon !== h.lastIndexOf(":")) return h;  // a bare IPv6 address (flags)
  return colon >= 0 ? h.slice(0, colon) : h;
}

// Normalises an IPv4-mapped IPv6 address ("::ffff:127.0.0.1" -> "127.0.0.1").
export function normaliseAddress(addr) {
  if (typeof addr !== "string") return "";
  return addr.startsWith("::ffff:") ? addr.slice(7) : addr;
}

// Which client addresses are the kiosks of which venue (--kiosk_clients).
// Built by parseKioskClients; immutable; address checks are pure.
export class KioskClients {
  // bindings: [{venue, address, prefix}] (address an IP address, prefix its
  // network length: 32 or 128 for one address).
  constructor(bindings) {
    this.bindings = Object.freeze(bindings.map((b) => Object.freeze({ ...b })));
    this.byVenue = new Map();  // venue -> net.BlockList of its kiosks' addresses
    for (const { venue, address, prefix } of this.bindings) {
      if (!this.byVenue.has(venue)) this.byVenue.set(venue, new net.BlockList());
      this.byVenue.get(venue).addSubnet(address, prefix, net.isIPv4(address) ? "ipv4" : "ipv6");
    }
  }

  // Whether `address` (as the socket or the PROXY header gives it) is a kiosk of `venue`.
  allows(address, venue) {
    const a = normaliseAddress(address);
    const family = net.isIP(a);
    const list = this.byVenue.get(venue);
    return family !== 0 && list !== undefined && list.check(a, family === 4 ? "ipv4" : "ipv6");
  }

  // The venues whose kiosk `address` is, in flag order.
  venuesOf(address) {
    return [...this.byVenue.keys()].filter((v) => this.allows(address, v));
  }

  get venues() { return [...this.byVenue.keys()]; }
}

// parseKioskClients("venue=address[/prefix],...") -> KioskClients. Each entry
// binds one address or network (CIDR) to one venue; an address that serves
// several venues is named once per venue. "" binds nothing (no client is a
// kiosk). Throws Error naming the entry when one is malformed, including a
// bare address without a venue (the old flat form, which let any allowed
// address act as the kiosk of every venue).
export function parseKioskClients(text) {
  const bindings = [];
  for (const raw of String(text).split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    if (eq < 0) {
      throw new Error(`"${entry}" names no venue: each entry is venue=address or venue=address/prefix ` +
                      "(a kiosk's address is bound to its own venue)");
    }
    const venue = entry.slice(0, eq);
    const target = entry.slice(eq + 1);
    if (!VENUE_RE.test(venue)) throw new Error(`"${entry}": the venue must be a venue id ([a-z0-9_-]{1,64})`);
    const slash = target.indexOf("/");
    const address = normaliseAddress(slash < 0 ? target : target.slice(0, slash));
    const family = net.isIP(address);
    if (family === 0) throw new Error(`"${entry}": "${address}" is not an IP address`);
    const bits = family === 4 ? 32 : 128;
    let prefix = bits;
    if (slash >= 0) {
      const p = target.slice(slash + 1);
      if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || +p > bits) throw new Error(`"${entry}": the prefix must be 0..${bits}`);
      prefix = +p;
    }
    bindings.push({ venue, address, prefix });
  }
  return new KioskClients(bindings);
}

// chooseCredential(headers, remoteAddress, config) -> {authorization, principal}
//   headers: lower-cased request headers (a plain object)
//   config:  {kioskTokens: Map<venue, token> (or kiosk_tokens.js's KioskTokenDir), kioskClients: KioskClients
//             (parseKioskClients), kioskHosts: Set<host name> (optional: unset, any name)}
// principal: {kind: "bearer"|"kiosk"|"none", venue?, claims?}
// Throws ConnectError: UNAUTHENTICATED for a malformed authorization header,
// INVALID_ARGUMENT for a malformed or unconfigured kiosk venue,
// PERMISSION_DENIED for a client that may not act as a kiosk, as the kiosk of
// that venue, or send a kiosk token or session of another venue.
export function chooseCredential(headers, remoteAddress, config) {
  const auth = headers["authorization"];
  const kiosk = headers[KIOSK_HEADER];
  const client = normaliseAddress(remoteAddress);
  const clients = config.kioskClients;
  if (kiosk !== undefined) {
    if (!VENUE_RE.test(kiosk)) {
      throw new ConnectError(`${KIOSK_HEADER}: must be a venue id ([a-z0-9_-]{1,64})`, Code.InvalidArgument);
    }
    if (clients.venuesOf(client).length === 0) {
      throw new ConnectError(
        `${KIOSK_HEADER}: client ${client} may not act as a kiosk (--kiosk_clients)`, Code.PermissionDenied);
    }
    if (config.kioskHosts && !config.kioskHosts.has(hostName(headers["host"]))) {
      throw new ConnectError(
        `${KIOSK_HEADER}: the gateway was called as "${hostName(headers["host"]).slice(0, 100)}", ` +
        "not a kiosk host name (--kiosk_hosts)", Code.PermissionDenied);
    }
    if (config.kioskTokens.size > 0 && !config.kioskTokens.has(kiosk)) {
      throw new ConnectError(`${KIOSK_HEADER}: no kiosk is configured for venue "${kiosk}"`, Code.InvalidArgument);
    }
    if (!clients.allows(client, kiosk)) {
      throw new ConnectError(
        `${KIOSK_HEADER}: client ${client} is not a kiosk of venue ${kiosk} (--kiosk_clients)`, Code.PermissionDenied);
    }
  }
  if (auth !== undefined) {
    const m = BEARER_RE.exec(auth);
    if (!m) throw new ConnectError("authorization: must be \"Bearer <token>\"", Code.Unauthenticated);
    const claims = peekClaims(m[1]);
    if (!claims) throw new ConnectError("authorization: the bearer token is not a JWT", Code.Unauthenticated);
    if (kiosk !== undefined && (claims.role !== "kiosk" || claims.venue !== kiosk)) {
      throw new ConnectError(`authorization: not a session of the kiosk at venue ${kiosk}`, Code.PermissionDenied);
    }
    // A kiosk's token or session (without the kiosk header too) is used only
    // where that venue's kiosks are: copied off a kiosk, it is of no use elsewhere.
    if (claims.role === "kiosk" && !clients.allows(client, String(claims.venue ?? ""))) {
      throw new ConnectError(
        `authorization: a kiosk token of venue ${String(claims.venue ?? "").slice(0, 64)}, ` +
        `but client ${client} is not a kiosk of that venue (--kiosk_clients)`, Code.PermissionDenied);
    }
    return { authorization: auth, principal: { kind: "bearer", claims, venue: kiosk } };
  }
  if (kiosk !== undefined) {
    const token = config.kioskTokens.get(kiosk);
    return {
      authorization: token === undefined ? undefined : `Bearer ${token}`,
      principal: { kind: "kiosk", venue: kiosk, claims: token === undefined ? null : peekClaims(token) },
    };
  }
  return { authorization: undefined, principal: { kind: "none" } };
}

// The district identity provider (services/domain/vocabulary.h, kDistrictIdp).
const DISTRICT_IDP = "https://id.dongcheng.gov.cn";

// The learner key of an xAPI actor that is one Agent of the district identity
// provider ({"account": {"homePage": DISTRICT_IDP, "name": "u000042"}}), else
// "". A Group is never one learner: the record service files a Group's
// statement under its identifier and every member, so a Group named by the
// session's learner would record for its members too; an account of another
// homePage is another learner.
function actorLearner(statement) {
  const a = statement && statement.actor;
  if (!a || typeof a !== "object" || Array.isArray(a)) return "";
  if ((a.objectType !== undefined && a.objectType !== "Agent") || a.member !== undefined) return "";
  const acc = a.account;
  if (!acc || typeof acc !== "object" || typeof acc.name !== "string") return "";
  if (acc.homePage !== DISTRICT_IDP && acc.homePage !== DISTRICT_IDP + "/") return "";
  return acc.name;
}

// Checks a RecordStatement call made for a kiosk: a kiosk records only
// registered/attended statements of the learner signed in at it (its session
// token names that learner). The services check the verb and the venue, and
// hold a session to its learner too; the gateway also refuses the kiosk's own
// token here, which the kiosk role would let record for any learner at its
// venue.
export function checkKioskWrite(principal, statementJson) {
  const kioskCall = principal.kind === "kiosk" || (principal.claims && principal.claims.role === "kiosk");
  if (!kioskCall) return;
  const learner = principal.claims && principal.claims.learner;
  if (!learner) {
    throw new ConnectError("authorization: a kiosk records statements only for a signed-in learner",
                           Code.PermissionDenied);
  }
  let statement;
  try {
    statement = JSON.parse(statementJson);
  } catch {
    throw new ConnectError("statement_json: not valid JSON", Code.InvalidArgument);
  }
  if (actorLearner(statement) !== learner) {
    throw new ConnectError(`statement_json.actor: a kiosk session records only for its learner ${learner}`,
                           Code.PermissionDenied);
  }
}
