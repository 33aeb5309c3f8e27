#!/usr/bin/env python3
"""Streaming "no coalescing" check (stdlib only).

Reads the same slow SSE stream (the emulator paced at N tokens/s) directly from the emulator and through the
gateway, timestamps every SSE event at the socket read that completed it, and compares:

  events     SSE events per run (including the final [DONE])
  first ms   time from sending the request to the first event
  gap mean / p50 / max   time between consecutive events (ms); paced at 50 tok/s this should be ~20 ms
  coalesced  events completed by the same socket read as the previous event ("of N": events that have a
             previous event in the same stream). A proxy that buffers (or an
             SSE writer that does not flush per event) shows up here as many coalesced events and a few big gaps.

A raw socket (not http.client/urllib) is used so that "same socket read" means exactly one recv() call;
chunked transfer encoding is decoded by hand for the same reason.

usage: stream_check.py [--requests N] [--key SECRET] [--model NAME] LABEL=URL [LABEL=URL ...]
"""
import argparse
import json
import socket
import statistics
import sys
import time
from urllib.parse import urlsplit

# Fixed reply text (the emulator's mock_response) so every run has the same, reasonably long, event count.
REPLY = ("The gateway should forward every server sent event as soon as it arrives from the provider, "
         "without waiting to fill a buffer, so that a client sees each token at the pace the model produced it. "
         "This sentence is only here to make the stream long enough to measure.")


def one_stream(url, model, key, timeout=30.0):
    """Returns (status, [(t_seconds_since_send, read_index, data), ...])."""
    u = urlsplit(url)
    body = json.dumps({"model": model, "stream": True, "mock_response": REPLY,
                       "messages": [{"role": "user", "content": "hello"}]}).encode()
    head = [f"POST {u.path or '/'} HTTP/1.1", f"Host: {u.hostname}:{u.port}", "Content-Type: application/json",
            "Accept: text/event-stream", f"Content-Length: {len(body)}", "Connection: close"]
    if key:
        head.append(f"Authorization: Bearer {key}")
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    t0 = time.perf_counter()

    raw = b""            # bytes not yet consumed (headers, then chunk framing)
    sse = b""            # de-chunked body not yet split into events
    headers = None
    chunked = False
    status = 0
    events = []
    reads = 0
    finished = False
    while not finished:
        data = sock.recv(65536)
        now = time.perf_counter() - t0
        if not data:
            break
        reads += 1
        raw += data
        if headers is None:
            end = raw.find(b"\r\n\r\n")
            if end < 0:
                continue
            lines = raw[:end].decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
            chunked = "chunked" in headers.get("transfer-encoding", "").lower()
            raw = raw[end + 4:]
        if chunked:
            while True:                       # decode as many complete chunks as we have
                nl = raw.find(b"\r\n")
                if nl < 0:
                    break
                size = int(raw[:nl].split(b";")[0], 16)
                if size == 0:
                    finished = True
                    break
                if len(raw) < nl + 2 + size + 2:
                    break
                sse += raw[nl + 2:nl + 2 + size]
                raw = raw[nl + 2 + size + 2:]
        else:
            sse, raw = sse + raw, b""
        sse = sse.replace(b"\r\n", b"\n")
        while (end := sse.find(b"\n\n")) >= 0:   # every complete event gets this read's time and index
            event, sse = sse[:end], sse[end + 2:]
            data_lines = [l[5:].strip() for l in event.split(b"\n") if l.startswith(b"data:")]
            if data_lines:
                events.append((now, reads, b"\n".join(data_lines)))
                if data_lines[-1] == b"[DONE]":
                    finished = True
    sock.close()
    return status, events


def summarize(runs):
    gaps, coalesced, counts, firsts, problems = [], 0, [], [], []
    for status, events in runs:
        if status != 200:
            problems.append(f"HTTP {status}")
        if not events or events[-1][2] != b"[DONE]":
            problems.append("stream did not end with [DONE]")
        counts.append(len(events))
        if events:
            firsts.append(events[0][0] * 1000)
        for prev, cur in zip(events, events[1:]):
            gaps.append((cur[0] - prev[0]) * 1000)
            coalesced += cur[1] == prev[1]
    return {
        "events": statistics.mean(counts) if counts else 0,
        "first_ms": statistics.mean(firsts) if firsts else float("nan"),
        "gap_mean": statistics.mean(gaps) if gaps else float("nan"),
        "gap_p50": statistics.median(gaps) if gaps else float("nan"),
        "gap_max": max(gaps) if gaps else float("nan"),
        "coalesced": coalesced,
        "pairs": len(gaps),
        "problems": sorted(set(problems)),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=5, help="streams per target (default 5)")
    p.add_argument("--key", help="bearer token for targets whose label starts with 'gateway'")
    p.add_argument("--model", default="bench-slow")
    p.add_argument("targets", nargs="+", metavar="LABEL=URL")
    a = p.parse_args()

    print("| target | events/stream | first event ms | gap mean ms | gap p50 ms | gap max ms | coalesced (same read) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    bad = False
    for target in a.targets:
        label, url = target.split("=", 1)
        key = a.key if label.startswith("gateway") else None
        one_stream(url, a.model, key)                        # warm-up: connection pools, JIT
        s = summarize([one_stream(url, a.model, key) for _ in range(a.requests)])
        print(f"| {label} | {s['events']:.0f} | {s['first_ms']:.1f} | {s['gap_mean']:.1f} | {s['gap_p50']:.1f} "
              f"| {s['gap_max']:.1f} | {s['coalesced']} of {s['pairs']} |")
        if s["problems"]:
            bad = True
            print(f"\n**{label}: INVALID: {', '.join(s['problems'])}**\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
