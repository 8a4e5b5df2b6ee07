// Kiosk tokens (--kiosk_token_dir): one file per venue, <venue id>.token,
// holding the token of role kiosk for that venue (minted by ops/web.sh, valid
// 30 days). ops/stack.sh's token refresher mints each one again every day by
// writing a new file and renaming it over the old one, so the gateway, which
// runs for longer than a token lives, must send each file's current token
// (docs/web.md, "Kiosk tokens"; docs/security.md, "Service tokens").
//
// KioskTokenDir answers as the Map<venue, token> that policy.js reads
// (get, has, size, keys). At most once per checkMs (2 s) an access looks at
// the directory again: new <venue>.token files are added, and a file whose
// device, inode, size or modification time changed is read again. A read that
// fails or finds the file empty keeps the token held (logged once per state,
// never the token); so does a file that disappeared (a gateway started next
// to this one empties the directory and mints every token again, ops/web.sh
// up; revoking a kiosk is the revocation list's job, docs/security.md). The
// look is synchronous: a readdir and a stat per venue (17 by default), well
// under a millisecond, once per checkMs, on the request that comes first.

import fs from "node:fs";
import path from "node:path";
import { log } from "./log.js";

const FILE_RE = /^([a-z0-9_-]{1,64})\.token$/;
// The largest token file read (a JWT is a few hundred bytes).
const MAX_BYTES = 64 << 10;

function identityOf(st) {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

export class KioskTokenDir {
  // dir: the directory. options: {checkMs (default 2000; 0: at every access),
  // now (ms clock, default Date.now), log (one JSON-able object per line)}.
  // Throws (the fs error) when the directory cannot be read now; an
  // unreadable token file is skipped (logged) as later on.
  constructor(dir, options = {}) {
    this.dir = dir;
    this.checkMs = options.checkMs ?? 2000;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? log;
    this.tokens = new Map();       // venue -> token
    this.identities = new Map();   // venue -> identity of the file the token came from
    this.failures = new Map();     // venue ("" the directory) -> the reason last logged
    this.scan(fs.readdirSync(dir), false);
    this.lastCheck = this.now();
  }

  get size() { this.check(); return this.tokens.size; }
  has(venue) { this.check(); return this.tokens.has(venue); }
  get(venue) { this.check(); return this.tokens.get(venue); }
  keys() { this.check(); return this.tokens.keys(); }

  // Looks at the directory again when checkMs has passed since the last look.
  check() {
    const now = this.now();
    if (now - this.lastCheck < this.checkMs) return;
    this.lastCheck = now;
    let names;
    try {
      names = fs.readdirSync(this.dir);
    } catch (err) {
      this.fail("", `cannot read the directory: ${err.code || err.message}`);
      return;
    }
    this.failures.delete("");
    this.scan(names, true);
  }

  scan(names, logChanges) {
    const present = new Set();
    for (const name of names) {
      const m = FILE_RE.exec(name);
      if (!m) continue;
      present.add(m[1]);
      this.readIfChanged(m[1], path.join(this.dir, name), logChanges);
    }
    for (const venue of this.tokens.keys()) {
      if (!present.has(venue)) this.fail(venue, "the file is gone");
    }
  }

  readIfChanged(venue, file, logChanges) {
    let token;
    let identity;
    try {
      const fd = fs.openSync(file, "r");
      try {
        const st = fs.fstatSync(fd);
        identity = identityOf(st);
        if (identity === this.identities.get(venue)) {
          this.failures.delete(venue);
          return;
        }
        if (st.size > MAX_BYTES) throw new Error(`${st.size} bytes, not a token`);
        token = fs.readFileSync(fd, "utf8").trim();
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      this.fail(venue, `cannot read ${file}: ${err.code || err.message}`);
      return;
    }
    if (!token) {
      this.fail(venue, `${file} is empty`);
      return;
    }
    const changed = this.tokens.has(venue) && this.tokens.get(venue) !== token;
    const added = !this.tokens.has(venue);
    this.tokens.set(venue, token);
    this.identities.set(venue, identity);
    this.failures.delete(venue);
    if (logChanges && (changed || added)) {
      this.log({ level: "info", event: added ? "kiosk_token_added" : "kiosk_token_reloaded", venue });
    }
  }

  // Logs a failed look once per venue and reason; the token held is kept.
  fail(venue, reason) {
    if (this.failures.get(venue) === reason) return;
    this.failures.set(venue, reason);
    const keeping = venue === "" ? "every token read before"
      : this.tokens.has(venue) ? "the token read before" : "no token";
    this.log({ level: "warn", event: "kiosk_token_reload_failed", venue: venue || undefined, reason, keeping });
  }
}
