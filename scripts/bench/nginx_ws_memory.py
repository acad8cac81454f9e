#!/usr/bin/env python3
"""NGINX's memory per idle proxied WebSocket, whatever the configuration around it.

Runs an NGINX of its own with the smallest configuration that proxies a WebSocket upgrade (one
worker, no logs, no limits, no headers added, one location with proxy_pass), an upstream of its
own that answers every upgrade with 101 and then holds the socket, opens COUNT upgraded sockets
through NGINX and prints the worker's resident memory before and after, per socket. Each
--setting is one run; a setting is NGINX directives added at the server level (where
request_pool_size, connection_pool_size and client_header_buffer_size are allowed) and
`proxy_buffer_size` for the location.

    scripts/bench/nginx_ws_memory.py                       # the shipped buffer (2k) and smaller
    scripts/bench/nginx_ws_memory.py --count 5000 --setting 'buffer=1k' \\
        --setting 'buffer=256 server=request_pool_size 1k; connection_pool_size 256;'

Loopback only (127.0.0.1, two free ports); everything it starts is stopped on exit.
"""

import argparse
import asyncio
import base64
import hashlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFAULT_SETTINGS = [
    "buffer=2k",
    "buffer=1k",
    "buffer=256",
    "buffer=256 server=request_pool_size 1k; connection_pool_size 256; client_header_buffer_size 256;",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_upstream(port):
    """An upstream that answers each upgrade with 101 and keeps the socket until NGINX closes it."""

    async def handle(reader, writer):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await reader.read(4096)
            if not chunk:
                return
            data += chunk
        key = next(
            line.split(b":", 1)[1].strip()
            for line in data.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        await writer.drain()
        while await reader.read(4096):
            pass
        writer.close()

    async def serve(ready):
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        ready.set()
        async with server:
            await server.serve_forever()

    ready = threading.Event()
    threading.Thread(target=lambda: asyncio.run(serve(ready)), daemon=True).start()
    ready.wait(10)


def config(dir_, port, upstream_port, buffer, server_extra):
    return f"""worker_processes 1;
pid {dir_}/nginx.pid;
error_log {dir_}/error.log warn;
worker_rlimit_nofile 40000;
events {{ worker_connections 32768; }}
http {{
    access_log off;
    upstream up {{ server 127.0.0.1:{upstream_port}; }}
    server {{
        listen 127.0.0.1:{port};
        {server_extra}
        location = /ws {{
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_buffering off;
            proxy_buffer_size {buffer};
        }}
    }}
}}
"""


def worker_rss_kib(master):
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    total = 0
    for pid in children:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("Rss:"))
    return total


def measure(setting, count, upstream_port):
    first = setting.split(" ", 1)[0]
    if not first.startswith("buffer="):
        raise SystemExit(f"a setting starts with buffer=SIZE: {setting!r}")
    buffer = first.split("=", 1)[1]
    server_extra = setting.split("server=", 1)[1] if "server=" in setting else ""
    dir_ = tempfile.mkdtemp(prefix="seatmap-nginx-mem.")
    port = free_port()
    with open(f"{dir_}/nginx.conf", "w") as f:
        f.write(config(dir_, port, upstream_port, buffer, server_extra))
    nginx = subprocess.Popen(["nginx", "-p", f"{dir_}/", "-c", f"{dir_}/nginx.conf",
                              "-g", "daemon off;"], stderr=subprocess.PIPE)
    sockets = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.3)
        before = worker_rss_kib(nginx.pid)
        request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(request)
            sockets.append(s)
        for s in sockets:
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    raise SystemExit(f"NGINX closed an upgrade ({setting})")
                answer += chunk
            if b" 101 " not in answer.split(b"\r\n")[0]:
                raise SystemExit(f"no 101 through NGINX ({setting}): {answer[:80]!r}")
        time.sleep(1)
        after = worker_rss_kib(nginx.pid)
        print(f"{setting:<100} {count} sockets: worker RSS {before / 1024:.1f} -> "
              f"{after / 1024:.1f} MiB, {(after - before) / count:.2f} KiB per socket", flush=True)
    finally:
        for s in sockets:
            s.close()
        nginx.send_signal(signal.SIGTERM)
        nginx.wait(10)
        shutil.rmtree(dir_, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000, help="upgraded sockets per run [3000]")
    parser.add_argument("--setting", action="append",
                        help="'buffer=SIZE [server=DIRECTIVES…]', repeatable [the four of the docstring's first line]")
    args = parser.parse_args()
    if shutil.which("nginx") is None:
        sys.exit("nginx is not installed (apt-get install nginx-light)")
    limit = args.count * 2 + 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    upstream_port = free_port()
    start_upstream(upstream_port)
    print(f"nginx {subprocess.run(['nginx', '-v'], capture_output=True, text=True).stderr.strip()}, "
          f"one worker, the smallest proxying configuration; pid {os.getpid()}", flush=True)
    for setting in args.setting or DEFAULT_SETTINGS:
        measure(setting, args.count, upstream_port)


if __name__ == "__main__":
    main()
