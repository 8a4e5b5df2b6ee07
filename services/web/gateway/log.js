// The gateway's log: one JSON object per line on stdout. When stdout is a
// file (ops/stack.sh and ops/cluster.sh start the gateway with
// `>>var/log/web.log 2>&1`; a pipe or terminal is left alone) it is rotated
// as the C++ services' logs are (services/common/log.h): once `rotateBytes`
// have gone into FILE (its size at configuration counts), FILE becomes
// FILE.1, FILE.1 becomes FILE.2, ... up to FILE.<keep> (the oldest beyond it
// is dropped), and the lines go on in a new FILE (mode 0600). Every bridged
// call is logged, refused ones included, so without it the file grew
// without end until the disk was full. stderr (a start-up error, a crash's
// stack) keeps writing where it was opened.
import fs from "node:fs";

let state = { fd: 1, path: "", written: 0, max: 0, keep: 4 };
let rotations = 0;

// configureLogRotation({rotateBytes, keep}): rotateBytes 0 never rotates.
export function configureLogRotation({ rotateBytes, keep }) {
  if (state.fd !== 1) fs.closeSync(state.fd);
  state = { fd: 1, path: "", written: 0, max: 0, keep };
  if (!(rotateBytes > 0)) return;
  let st;
  let target;
  try {
    st = fs.fstatSync(1);
    if (!st.isFile()) return;
    target = fs.readlinkSync("/proc/self/fd/1");
  } catch {
    return;
  }
  if (!target.startsWith("/") || target.endsWith(" (deleted)")) return;
  state = { fd: 1, path: target, written: st.size, max: rotateBytes, keep };
}

// Times the file was rotated since the process started.
export function logRotations() {
  return rotations;
}

// Writes `fields` with a timestamp as one line.
export function log(fields) {
  writeLogLine(JSON.stringify({ ts: new Date().toISOString(), ...fields }) + "\n");
}

// Writes one complete line (ending in "\n").
function writeLogLine(line) {
  if (state.fd === 1) {
    process.stdout.write(line);
  } else {
    try {
      fs.writeSync(state.fd, line);
    } catch {
      // a full disk: the line is lost, the gateway goes on
    }
  }
  if (state.max > 0 && (state.written += Buffer.byteLength(line)) >= state.max) rotate();
}

// FILE -> FILE.1 -> ... -> FILE.<keep>, then a new FILE. On a failure the
// lines go on where they were; the next line past the limit tries again.
function rotate() {
  const { path, keep } = state;
  for (let i = keep - 1; i >= 1; i--) {
    try {
      fs.renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    } catch {
      // not there yet
    }
  }
  let fd;
  try {
    fs.renameSync(path, `${path}.1`);
    fd = fs.openSync(path, "a", 0o600);
  } catch {
    return;
  }
  if (state.fd !== 1) fs.closeSync(state.fd);
  state.fd = fd;
  state.written = 0;
  rotations++;
}
