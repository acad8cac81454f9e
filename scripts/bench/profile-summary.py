#!/usr/bin/env python3
"""profile-summary.py [--booking] FOLDED [US_PER_UNIT]: splits a profile (collapsed stacks from
inferno-collapse-perf) into where the time goes, each sample counted once, in the first bucket
that matches (most specific first). Edge buckets by default, booking-service buckets with
--booking. With the process's CPU µs per delivery (or per request) it also prints µs per unit
per bucket. Prints a Markdown table."""

import re
import sys

# (bucket, frame pattern, where): "any" = some frame of the stack matches, "leaf" = the sampled
# frame itself.
BUCKETS = [
    ("loopback receive in softirq (kernel; on 127.0.0.1 the receiver's TCP work is charged to the sender)",
     r"^(net_rx_action|process_backlog|__netif_receive_skb)", "any"),
    ("TCP send: try_write / writev of each frame to each client (kernel)",
     r"^(__sys_sendto|tcp_sendmsg|__x64_sys_sendto|__x64_sys_write|__x64_sys_writev|ksys_write|do_writev|sock_write_iter)", "any"),
    # Before the timers: tokio's timer driver is where an idle worker parks (then epoll_wait).
    ("epoll_wait and parking (the runtime waiting for work)", r"(epoll_wait|::park)", "any"),
    ("futex (waking or parking runtime threads)", r"futex", "any"),
    ("TCP receive (kernel)", r"^(__sys_recvfrom|tcp_recvmsg|__x64_sys_recvfrom|__x64_sys_read|ksys_read)", "any"),
    ("other system calls", r"^(entry_SYSCALL_64|do_syscall_64)", "any"),
    ("memory allocation", r"(malloc|^free$|cfree|_int_free|_int_malloc|__rust_alloc|__rust_dealloc|realloc|alloc::raw_vec|__libc_calloc)", "leaf"),
    ("JSON and frame encoding (once per change)", r"(serde_json|wire::text_frame)", "any"),
    ("hub fan-out: the walk over clients (socket lock, subscription check, try_write's user-space part)",
     r"(edge_server::hub|edge_server::wire|VenueHub)", "any"),
    ("reading clients' frames (tungstenite)", r"tungstenite", "any"),
    ("connection tasks (pings, backlog, commands)", r"edge_server::connection", "any"),
    ("channels (tokio mpsc: events into the hub)", r"tokio::sync::mpsc", "any"),
    ("timers (pings, grace)", r"(tokio::runtime::time|tokio::time::|TimerEntry)", "any"),
    ("tokio scheduler and task wake-ups", r"tokio::runtime", "any"),
]


BOOKING = [
    ("memory allocation (glibc malloc/free)", r"(malloc|^free$|cfree|_int_free|_int_malloc|tcache|__libc_calloc|realloc|memalign)", "leaf"),
    ("loopback receive in softirq (kernel)", r"^(net_rx_action|process_backlog|__netif_receive_skb)", "any"),
    ("TCP send (kernel)", r"^(__sys_sendto|tcp_sendmsg|do_writev|__x64_sys_writev|sock_write_iter)", "any"),
    ("TCP receive (kernel)", r"^(__sys_recvfrom|tcp_recvmsg|__x64_sys_recvfrom)", "any"),
    ("other system calls", r"^(entry_SYSCALL_64|do_syscall_64)", "any"),
    ("JSON (serde_json)", r"serde_json", "any"),
    ("tokens: HMAC and SHA-256", r"(hmac|sha2|Sha256|sha256|TokenSigner)", "any"),
    ("the relay (outbox → NATS)", r"booking_service::relay", "any"),
    ("Redis client (fred)", r"fred::", "any"),
    ("HTTP (hyper)", r"hyper", "any"),
    ("routing and middleware (axum, tower)", r"(axum|tower)", "any"),
    ("tokio scheduler and wake-ups", r"tokio::runtime", "any"),
]


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if args else 2)
    buckets = BUCKETS
    unit = "delivery"
    if args and args[0] == "--booking":
        buckets, unit, args = BOOKING, "request", args[1:]
    path = args[0]
    us_per_delivery = float(args[1]) if len(args) > 1 else None
    compiled = [(name, re.compile(p), where) for name, p, where in buckets]
    totals = {name: 0 for name, _, _ in buckets}
    totals["other"] = 0
    total = 0
    for line in open(path):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        n = int(n)
        frames = stack.split(";")
        total += n
        for name, rx, where in compiled:
            hit = rx.search(frames[-1]) if where == "leaf" else any(rx.search(f) for f in frames)
            if hit:
                totals[name] += n
                break
        else:
            totals["other"] += n
    who = "the booking service's" if buckets is BOOKING else "the edge's"
    print(f"| where {who} CPU goes | share |" + (f" µs per {unit} |" if us_per_delivery else ""))
    print("|---|---|" + ("---|" if us_per_delivery else ""))
    for name, n in sorted(totals.items(), key=lambda kv: -kv[1]):
        if n == 0:
            continue
        share = n / total
        cell = f" {share * us_per_delivery:.2f} |" if us_per_delivery else ""
        print(f"| {name} | {100 * share:.1f} % |{cell}")


if __name__ == "__main__":
    main()
