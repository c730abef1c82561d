#!/usr/bin/env python3
"""Benchmark (not a test): flag published -> webhook received, and flag published -> alert held by
Alertmanager, on the embedded bus. Starts a real Alertmanager (Debian's prometheus-alertmanager)
and `probity up --routing --alertmanager-url`, produces N flags onto probity.flags.v1 at a steady
rate with confluent_kafka, and times each flag from its produce call to (a) the webhook for it
arriving at a receiver here (Ed25519 signature checked), (b) its alert first listed by
Alertmanager's /api/v2/alerts (polled every 10 ms, so (b) is late by up to 10 ms). Prints
p50/p90/p99/max for each. Target (issue 15): p99 < 1 s.

  tools/bench/delivery_latency.py --probity build/services/probity/probity [--flags 300 --rate 50]
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/integration"))
import probity_e2e as e2e  # noqa: E402
from webhooks_e2e_test import flag_json, verify  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402

e2e.PORT_RANGE = (46400, 46499)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probity", required=True)
    ap.add_argument("--flags", type=int, default=300)
    ap.add_argument("--rate", type=float, default=50.0, help="flags per second")
    ap.add_argument("--alertmanager", default="/usr/bin/prometheus-alertmanager")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="probity_delivery_bench_")
    procs = []
    arrived = {}
    lock = threading.Lock()
    key = [None]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            t = time.monotonic()
            ok = key[0] is not None and "v1a" in verify(
                {k.lower(): v for k, v in self.headers.items()}, body, key[0], [])
            with lock:
                if ok:
                    arrived.setdefault(json.loads(body)["data"]["flag_id"], t)
            self.send_response(204 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    try:
        recv = ThreadingHTTPServer(("127.0.0.1", e2e.free_port()), Handler)
        threading.Thread(target=recv.serve_forever, daemon=True).start()
        am_port = e2e.free_port()
        with open(os.path.join(tmp, "am.yml"), "w") as f:
            f.write("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n")
        procs.append(e2e.Proc([a.alertmanager, "--config.file=" + os.path.join(tmp, "am.yml"),
                               "--storage.path=" + os.path.join(tmp, "am"),
                               "--web.listen-address=127.0.0.1:%d" % am_port,
                               "--cluster.listen-address="], os.path.join(tmp, "am.log")))
        routing = os.path.join(tmp, "routing.yaml")
        with open(routing, "w") as f:
            f.write("endpoints:\n  bench: {url: 'http://127.0.0.1:%d/h'}\n"
                    "routes:\n  - name: all\n    endpoints: [bench]\n" % recv.server_address[1])
        bus_port = e2e.free_port()
        up = e2e.Proc([a.probity, "up", "--port", str(bus_port), "--data-dir",
                       os.path.join(tmp, "data"), "--routing", routing, "--alertmanager-url",
                       "http://127.0.0.1:%d" % am_port, "--http-port", "0"],
                      os.path.join(tmp, "up.log"))
        procs.append(up)
        if not up.wait_output(r"probity up: running", 60):
            raise SystemExit("probity up did not start:\n" + up.output())
        with open(os.path.join(tmp, "data", "keys", "webhooks.pub")) as f:
            pub = f.read().strip()
        key[0] = Ed25519PublicKey.from_public_bytes(base64.b64decode(pub[5:]))

        am_seen = {}
        stop = threading.Event()

        def poll_am():
            url = "http://127.0.0.1:%d/api/v2/alerts?active=true" % am_port
            while not stop.is_set():
                try:
                    with urllib.request.urlopen(url, timeout=5) as r:
                        alerts = json.loads(r.read())
                    t = time.monotonic()
                    for al in alerts:
                        am_seen.setdefault(al["labels"].get("flag_id"), t)
                except OSError:
                    pass
                time.sleep(0.01)

        threading.Thread(target=poll_am, daemon=True).start()
        p = e2e.producer("127.0.0.1:%d" % bus_port, **{"linger.ms": 0})
        sent = {}
        start = time.monotonic()
        for n in range(a.flags):
            fid, value = flag_json(100000 + n, "A81001", "QHM", "critical")
            due = start + n / a.rate
            while time.monotonic() < due:
                time.sleep(0.0005)
            sent[fid] = time.monotonic()
            p.produce("probity.flags.v1", value=value, key=fid.encode(), headers=e2e.JSON_HEADERS)
            p.poll(0)
        e2e.flush_all(p)
        del p  # closed before the bus goes away
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (len(arrived) < a.flags or len(am_seen) < a.flags):
            time.sleep(0.1)
        stop.set()
        for name, seen in (("flag -> webhook received", arrived),
                           ("flag -> alert held by Alertmanager", am_seen)):
            lat = [seen[f] - t for f, t in sent.items() if f in seen]
            if not lat:
                print("%-36s none arrived" % name)
                continue
            print("%-36s n=%d/%d  p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms" % (
                name, len(lat), a.flags, 1000 * pct(lat, 50), 1000 * pct(lat, 90),
                1000 * pct(lat, 99), 1000 * max(lat)))
        print("(%d flags at %.0f/s on the embedded bus; %s)" % (a.flags, a.rate, os.uname().nodename))
    finally:
        for pr in procs:
            pr.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
