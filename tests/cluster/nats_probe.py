#!/usr/bin/env python3
"""Tries NATS operations as one user, for tests/cluster/cluster_sh_test.sh.

    nats_probe.py PORT CREDENTIALS_FILE ACTION...

CREDENTIALS_FILE holds one line "user:password" (the nodes'
--replication_nats_credentials_file). Connects to 127.0.0.1:PORT as that user
(client name "nats-probe", so that the test can tell its violations in the
servers' logs from a service's), then, in order, for each ACTION prints one
line "ACTION RESULT":

    pub:SUBJECT   publishes the 1-byte payload "x" (not JSON: a JetStream API
                  subject that took it would refuse it, purge or delete
                  nothing): allowed | denied
    sub:SUBJECT   subscribes: allowed | denied
    req:SUBJECT   publishes an empty request with a reply inbox and waits up to
                  5 s for the answer: answered <its first 200 bytes> | denied |
                  no answer

"denied" is the server's -ERR 'Permissions Violation ...' for that very
command. Exit status 0; 3 when the server refuses the user (Authorization
Violation), printing "refused"; 2 on a protocol or connection error.
"""

import json
import socket
import sys
import time


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def payload(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def send(self, data):
        self.sock.sendall(data)

    def until_pong(self, messages=None):
        """Reads up to the next PONG; returns the -ERR lines before it.
        Messages (MSG) are appended to `messages` as (subject, payload)."""
        errors = []
        while True:
            line = self.line()
            if line == "PONG":
                return errors
            if line == "PING":
                self.send(b"PONG\r\n")
            elif line.startswith("-ERR"):
                errors.append(line)
            elif line.startswith("MSG "):
                parts = line.split()
                data = self.payload(int(parts[-1]))
                if messages is not None:
                    messages.append((parts[1], data))
            elif line.startswith("HMSG "):
                parts = line.split()
                data = self.payload(int(parts[-1]))
                if messages is not None:
                    messages.append((parts[1], data[int(parts[-2]):]))


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    port = int(argv[1])
    with open(argv[2]) as f:
        user, _, password = f.read().strip().partition(":")
    conn = Conn(port)
    info = conn.line()
    if not info.startswith("INFO "):
        print(f"not a NATS server: {info!r}", file=sys.stderr)
        return 2
    connect = {"verbose": False, "pedantic": False, "name": "nats-probe", "headers": True,
               "user": user, "pass": password}
    conn.send(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
    try:
        errors = conn.until_pong()
    except ConnectionError:
        errors = ["-ERR (connection closed)"]
    if errors:
        print("refused" if any("Authorization" in e or "closed" in e for e in errors) else errors[0])
        return 3
    inbox = f"_INBOX_{user}.nats-probe"  # the user's own inboxes (nats_client.h, InboxPrefix)
    conn.send(f"SUB {inbox}.> 1\r\nPING\r\n".encode())
    if conn.until_pong():
        print(f"cannot subscribe to {inbox}.>", file=sys.stderr)
        return 2
    sid = 1
    for n, action in enumerate(argv[3:]):
        kind, _, subject = action.partition(":")
        messages = []
        if kind == "pub":
            conn.send(f"PUB {subject} 1\r\nx\r\nPING\r\n".encode())
        elif kind == "sub":
            sid += 1
            conn.send(f"SUB {subject} {sid}\r\nPING\r\n".encode())
        elif kind == "req":
            conn.send(f"PUB {subject} {inbox}.{n} 0\r\n\r\nPING\r\n".encode())
        else:
            print(f"unknown action {action!r}", file=sys.stderr)
            return 2
        errors = conn.until_pong(messages)
        if any("Permissions Violation" in e for e in errors):
            print(f"{action} denied")
            continue
        if errors:
            print(f"{action} error {errors[0]}")
            continue
        if kind != "req":
            print(f"{action} allowed")
            continue
        deadline = time.time() + 5
        while not any(s == f"{inbox}.{n}" for s, _ in messages) and time.time() < deadline:
            conn.send(b"PING\r\n")
            conn.until_pong(messages)
            time.sleep(0.05)
        answer = [d for s, d in messages if s == f"{inbox}.{n}"]
        if answer:
            print(f"{action} answered {answer[0][:200].decode(errors='replace')}")
        else:
            print(f"{action} no answer")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
