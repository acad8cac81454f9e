#!/usr/bin/env python3
"""A minimal NATS client over the text protocol, TLS included, with nothing to install.

nats-server 2.9 sends its INFO in the clear and then expects TLS (not TLS first), which
`openssl s_client` cannot do; Python's ssl module can. scripts/watch-events.sh runs this when
NATS wants TLS; the SECURE=1 test uses it to show what each user may do.

    nats_text.py HOST PORT sub SUBJECT        print "subject payload" per message until killed
    nats_text.py HOST PORT pub SUBJECT DATA   publish once; print the server's answer (+OK/-ERR)

Environment: NATS_USER and NATS_PASSWORD (the credentials, never on a command line), NATS_CA (a
PEM file to trust for TLS; without it, the system's roots), NATS_PLAIN=1 (never start TLS, to
show that a server requiring it refuses). Exit status: 0, or 1 when the server
refused the connection or the publish (its -ERR is printed).
"""
import json
import os
import socket
import ssl
import sys


def read_line(stream):
    line = stream.readline()
    if not line:
        raise ConnectionError("NATS closed the connection")
    return line.decode("utf-8", "replace").rstrip("\r\n")


def connect(host, port, verbose):
    raw = socket.create_connection((host, port), timeout=5)
    info_line = raw.makefile("rb").readline().decode()
    if not info_line.startswith("INFO "):
        raise ConnectionError(f"not a NATS server: {info_line!r}")
    info = json.loads(info_line[5:])
    sock = raw
    if os.environ.get("NATS_PLAIN") == "1":
        pass
    elif info.get("tls_required") or os.environ.get("NATS_CA"):
        context = ssl.create_default_context(cafile=os.environ.get("NATS_CA"))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        sock = context.wrap_socket(raw, server_hostname=host)
    connect_info = {"verbose": verbose, "pedantic": False, "name": "nats_text", "lang": "python",
                    "version": "1", "protocol": 1}
    if os.environ.get("NATS_USER"):
        connect_info["user"] = os.environ["NATS_USER"]
        connect_info["pass"] = os.environ.get("NATS_PASSWORD", "")
    sock.sendall(f"CONNECT {json.dumps(connect_info)}\r\nPING\r\n".encode())
    stream = sock.makefile("rb")
    while True:  # +OK (verbose) then PONG, or -ERR
        line = read_line(stream)
        if line.startswith("-ERR"):
            print(line)
            sys.exit(1)
        if line == "PONG":
            return sock, stream


def publish(host, port, subject, data):
    sock, stream = connect(host, port, verbose=True)
    payload = data.encode()
    sock.sendall(f"PUB {subject} {len(payload)}\r\n".encode() + payload + b"\r\nPING\r\n")
    answer = read_line(stream)
    print(answer)
    # A permissions violation is answered with -ERR; the connection stays open.
    sys.exit(1 if answer.startswith("-ERR") else 0)


def subscribe(host, port, subject):
    sock, stream = connect(host, port, verbose=False)
    sock.settimeout(None)
    sock.sendall(f"SUB {subject} 1\r\nPING\r\n".encode())
    print(f"watch-events: listening on {subject} at {host}:{port} (Ctrl+C to stop)", file=sys.stderr)
    while True:
        line = read_line(stream)
        if line == "PING":
            sock.sendall(b"PONG\r\n")
        elif line.startswith("MSG "):
            parts = line.split(" ")
            size = int(parts[-1])
            payload = stream.read(size + 2)[:size].decode("utf-8", "replace")
            print(f"{parts[1]} {payload}", flush=True)
        elif line.startswith("-ERR"):
            print(f"watch-events: NATS says {line}", file=sys.stderr, flush=True)


def main(argv):
    if len(argv) < 4 or argv[3] not in ("sub", "pub") or (argv[3] == "pub" and len(argv) != 6):
        print(__doc__, file=sys.stderr)
        return 2
    host, port = argv[1], int(argv[2])
    try:
        if argv[3] == "pub":
            publish(host, port, argv[4], argv[5])
        else:
            subscribe(host, port, argv[4])
    except (OSError, ConnectionError) as error:
        print(f"nats_text: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
