"""Webhooks end to end: `probity up --routing` as a process, flags produced onto its embedded bus
with confluent_kafka, and three receivers here that check every signature with an implementation
independent of Probity's (Python's `cryptography`: Ed25519 for v1a with the published whpk_ key,
HMAC-SHA256 for v1 with each whsec_ secret of a rotation).

  - routing: each flag reaches exactly the receivers the routing file names, and no other;
  - retries: a receiver that refuses its first requests gets every webhook once it recovers;
  - 410: a receiver answering 410 Gone gets one request, is disabled, and every webhook for it is
    recorded as failed (`probity webhooks failed`);
  - a SIGKILL of the deliverer while it is retrying neither loses nor repeats: after a restart
    each webhook-id is accepted exactly once.
Ports 46100-46499 (this suite's range).
"""

import base64
import hashlib
import hmac as std_hmac
import json
import os
import random
import subprocess
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import probity_e2e as e2e  # noqa: E402

from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives import hmac as c_hmac  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402

PROBITY = os.environ.get("PROBITY_BIN", "probity")
e2e.PORT_RANGE = (46100, 46499)
RNG = random.Random(46)


def verify(headers, body, ed_key, hmac_secrets):
    """The Standard Webhooks check: some signature of id.timestamp.body verifies with a trusted
    key. Returns the kinds that verified ("v1a", "v1"); raises if a signature is malformed."""
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    assert "." not in msg_id and ts.isdigit(), (msg_id, ts)
    content = ("%s.%s." % (msg_id, ts)).encode() + body
    ok = []
    for sig in headers["webhook-signature"].split(" "):
        version, b64 = sig.split(",", 1)
        raw = base64.b64decode(b64, validate=True)
        if version == "v1a" and ed_key is not None:
            try:
                ed_key.verify(raw, content)
                ok.append("v1a")
            except InvalidSignature:
                pass
        elif version == "v1":
            for secret in hmac_secrets:
                h = c_hmac.HMAC(base64.b64decode(secret[len("whsec_"):]), hashes.SHA256())
                h.update(content)
                try:
                    h.verify(raw)
                    ok.append("v1")
                except InvalidSignature:
                    pass
    return ok


class Receiver:
    """An HTTP receiver on its own thread. `answer` decides each request's status; accepted
    webhooks are recorded only if a signature verifies."""

    def __init__(self, name, want_kind, hmac_secrets=()):
        self.name, self.want_kind, self.hmac_secrets = name, want_kind, list(hmac_secrets)
        self.ed_key = None
        self.lock = threading.Lock()
        self.accepted = {}  # webhook-id -> count
        self.bodies = {}
        self.requests = 0
        self.bad_signatures = 0
        self.status = 204
        self.refuse_next = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.requests += 1
                    code = outer.status
                    if outer.refuse_next > 0:
                        outer.refuse_next -= 1
                        code = 503
                    if 200 <= code < 300:
                        kinds = verify({k.lower(): v for k, v in self.headers.items()}, body,
                                       outer.ed_key, outer.hmac_secrets)
                        if outer.want_kind not in kinds:
                            outer.bad_signatures += 1
                            code = 401
                        else:
                            i = self.headers["webhook-id"]
                            outer.accepted[i] = outer.accepted.get(i, 0) + 1
                            outer.bodies[i] = json.loads(body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        for _ in range(50):
            try:
                self.server = ThreadingHTTPServer(("127.0.0.1", e2e.free_port(RNG)), Handler)
                break
            except OSError:
                continue
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/hooks" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return dict(self.accepted), self.requests, self.bad_signatures


def flag_json(n, practice, icb, severity):
    fid = hashlib.sha256(b"flag-%d" % n).hexdigest()
    js = {"event_id": fid, "kind": "EVENT_KIND_FLAG", "schema_version": 1,
          "practice_code": practice, "occurred_at": e2e._iso(e2e.JUL_2022 + n),
          "source_system": "e2e-rules",
          "flag": {"flag_id": fid, "rule_id": "dup-ios", "icb_code": icb,
                   "severity": "SEVERITY_" + severity.upper(), "summary": "test flag %d" % n}}
    return fid, json.dumps(js, separators=(",", ":")).encode()


class WebhooksEndToEnd(unittest.TestCase):
    def setUp(self):
        self.c = e2e.Cluster(PROBITY, "webhooks")
        self.up = None
        self.runs = 0
        self.qhm = Receiver("qhm", "v1a")
        secrets = ["whsec_" + base64.b64encode(os.urandom(32)).decode() for _ in range(2)]
        self.watch = Receiver("watch", "v1", hmac_secrets=secrets[1:])  # trusts only the old one
        self.gone = Receiver("gone", "v1a")
        self.gone.status = 410
        for i, s in enumerate(secrets):
            with open(os.path.join(self.c.dir, "watch%d.whsec" % i), "w") as f:
                f.write(s + "\n")
        self.routing = os.path.join(self.c.dir, "routing.yaml")
        with open(self.routing, "w") as f:
            f.write("""api_base_url: https://probity.test
watchlists:
  jane: {practices: [A81005, A81006]}
endpoints:
  qhm: {url: '%s'}
  watch:
    url: '%s'
    signature: hmac
    hmac_secret_files: ['%s', '%s']   # newest first: rotation signs with both
  gone: {url: '%s', events: [flag.raised]}
routes:
  - name: qhm-critical
    match: {icb: QHM, severity: critical}
    endpoints: [qhm]
  - name: jane
    match: {watchlist: jane}
    endpoints: [watch]
  - name: gone-warnings
    match: {severity: warning}
    endpoints: [gone]
""" % (self.qhm.url, self.watch.url, os.path.join(self.c.dir, "watch0.whsec"),
            os.path.join(self.c.dir, "watch1.whsec"), self.gone.url))

    def tearDown(self):
        if self.up is not None:
            self.up.kill()
        for r in (self.qhm, self.watch, self.gone):
            r.server.shutdown()
        self.c.close(keep=any(e for _, e in getattr(self._outcome, "errors", []) if e))

    def start_up(self):
        self.runs += 1
        for _ in range(10):
            port = e2e.free_port(RNG)
            up = e2e.Proc([PROBITY, "up", "--port", str(port), "--data-dir", self.c.data_dir,
                           "--routing", self.routing, "--webhook-first-retry-ms", "200",
                           "--http-port", "0", "--checkpoint-interval-ms", "200"],
                          os.path.join(self.c.dir, "up.%d.log" % self.runs))
            if up.wait_output(r"probity up: running", 30) and up.p.poll() is None:
                self.up = up
                self.bootstrap = "127.0.0.1:%d" % port
                break
            up.kill()
        else:
            raise AssertionError("probity up did not start:\n" + up.output())
        with open(os.path.join(self.c.data_dir, "keys", "webhooks.pub")) as f:
            pub = f.read().strip()
        self.assertTrue(pub.startswith("whpk_"), pub)
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(pub[len("whpk_"):]))
        for r in (self.qhm, self.watch, self.gone):
            r.ed_key = key

    def produce(self, flags):
        p = e2e.producer(self.bootstrap, **{"linger.ms": 0})
        for n, practice, icb, sev in flags:
            fid, value = flag_json(n, practice, icb, sev)
            p.produce("probity.flags.v1", value=value, key=fid.encode(), headers=e2e.JSON_HEADERS)
        e2e.flush_all(p)

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            if self.up.p.poll() is not None:
                raise AssertionError("probity up exited:\n" + self.up.output()[-3000:])
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; qhm %s, watch %s, gone %s\n%s" % (
            what, self.qhm.snapshot(), self.watch.snapshot(), self.gone.snapshot(),
            self.up.output()[-2000:]))

    def test_routing_signatures_retries_410_and_a_kill_mid_retry(self):
        self.start_up()
        # Flags: (n, practice, icb, severity). Expected receivers from the routing file.
        flags = [(0, "B82001", "QHM", "critical"),   # qhm
                 (1, "B82002", "QHM", "warning"),    # gone
                 (2, "A81005", "QOX", "info"),       # watch (watch-list)
                 (3, "A81006", "QHM", "critical"),   # qhm + watch
                 (4, "B82003", "QOX", "critical"),   # nowhere
                 (5, "A81005", "QOX", "warning")]    # watch + gone
        self.qhm.refuse_next = 3  # retries: the first three attempts are refused
        self.produce(flags)
        # The log orders flags by arrival; webhook ids are "wh_<log index>", so map them by body.
        self.wait_for(lambda: len(self.qhm.snapshot()[0]) == 2 and
                      len(self.watch.snapshot()[0]) == 3, 60, "first deliveries")
        by_flag = {}
        for r in (self.qhm, self.watch):
            for i, b in r.bodies.items():
                self.assertEqual(b["type"], "flag.raised")
                by_flag.setdefault(b["data"]["flag_id"], set()).add(r.name)
        fid = {n: flag_json(n, p, i, s)[0] for n, p, i, s in flags}
        self.assertEqual(by_flag, {fid[0]: {"qhm"}, fid[2]: {"watch"}, fid[3]: {"qhm", "watch"},
                                   fid[5]: {"watch"}})
        self.assertGreaterEqual(self.qhm.snapshot()[1], 5)  # 3 refused + 2 accepted
        # 410: one request, then disabled; both warnings recorded as failed.
        self.wait_for(lambda: self.gone.snapshot()[1] >= 1, 30, "the 410")
        time.sleep(1)
        self.assertEqual(self.gone.snapshot()[1], 1)
        body = self.qhm.bodies[next(iter(self.qhm.bodies))]
        self.assertTrue(body["data"]["api_link"].startswith("https://probity.test/v1/flags/"))

        # A kill mid-retry: the watch receiver refuses everything, flags arrive, the deliverer
        # retries, and is SIGKILLed; after a restart the receiver recovers.
        self.watch.status = 503
        more = [(10 + i, "A81006", "QOX", "info") for i in range(5)]
        self.produce(more)
        base = self.watch.snapshot()[1]
        self.wait_for(lambda: self.watch.snapshot()[1] >= base + 3, 60, "retries to watch")
        self.up.kill()
        self.watch.status = 204
        self.start_up()
        self.wait_for(lambda: len(self.watch.snapshot()[0]) == 8, 60, "deliveries after restart")
        time.sleep(1.5)  # anything repeated would have arrived by now
        accepted, _, bad = self.watch.snapshot()
        self.assertEqual(bad, 0)
        self.assertEqual(sorted(set(accepted.values())), [1], accepted)
        flags_seen = {b["data"]["flag_id"] for b in self.watch.bodies.values()}
        self.assertEqual(flags_seen, {fid[2], fid[3], fid[5]} |
                         {flag_json(n, p, i, s)[0] for n, p, i, s in more})
        self.assertEqual(self.qhm.snapshot()[0], {i: 1 for i in self.qhm.snapshot()[0]})
        self.assertEqual(self.qhm.snapshot()[2] + self.gone.snapshot()[2], 0)

        # What finally failed is recorded and visible.
        self.up.terminate(30)
        self.up = None
        out = self.c.cli("webhooks", "failed").stdout.decode()
        failed = [json.loads(l) for l in out.splitlines() if l.strip()]
        self.assertEqual(len(failed), 2, out)
        self.assertEqual({f["destination"] for f in failed}, {"gone"})
        self.assertTrue(all("410" in f["reason"] for f in failed), out)
        status = [json.loads(l) for l in self.c.cli("webhooks", "status").stdout.decode().splitlines()]
        st = {s["destination"]: s for s in status}
        self.assertTrue(st["gone"]["disabled"])
        self.assertEqual(int(st["watch"]["delivered"]), 8)
        self.assertEqual(int(st["watch"]["queued"]), 0)

    def test_separate_processes_on_probity_bus_with_checkpoints_verified(self):
        """The compose topology as processes: `probity bus`, `probity ingest`, and `probity
        webhooks` following probity.log.v1 and checking every checkpoint with the log's key."""
        self.c.start_bus()
        self.c.keygen()
        self.c.start_ingest()
        self.c.wait_ingest_ready()
        wh_dir = os.path.join(self.c.dir, "webhooks")
        # Ed25519 rotation: a previous key in KEY_DIR.previous still signs; the qhm receiver
        # trusts only that one (it has not moved to the new key yet).
        prev_dir = os.path.join(wh_dir, "keys", "webhooks.previous")
        subprocess.run([PROBITY, "keygen", "--name", "probity-webhooks", "--out-dir", prev_dir],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(prev_dir, "probity.pub")) as f:
            _, _, b64 = f.read().strip().split("+", 2)
        previous = Ed25519PublicKey.from_public_bytes(base64.b64decode(b64)[1:])
        self.up = e2e.Proc([PROBITY, "webhooks", "--bootstrap-servers", self.c.bootstrap,
                            "--routing", self.routing, "--data-dir", wh_dir,
                            "--log-key", self.c.key.replace(".key", ".pub"),
                            "--origin", "probity.test/log", "--first-retry-ms", "200",
                            "--http-port", "0"], os.path.join(self.c.dir, "webhooks.log"))
        self.assertTrue(self.up.wait_output(r"checkpoints verified with", 30), self.up.output())
        with open(os.path.join(wh_dir, "keys", "webhooks.pub")) as f:
            pub = f.read().strip()
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(pub[len("whpk_"):]))
        for r in (self.watch, self.gone):
            r.ed_key = key
        self.qhm.ed_key = previous
        self.bootstrap = self.c.bootstrap
        self.qhm.refuse_next = 2
        flags = [(20, "B82001", "QHM", "critical"), (21, "A81005", "QHM", "critical"),
                 (22, "B82009", "QOX", "info")]
        self.produce(flags)
        self.wait_for(lambda: len(self.qhm.snapshot()[0]) == 2 and
                      len(self.watch.snapshot()[0]) == 1, 60, "deliveries")
        time.sleep(1)
        self.assertEqual(self.qhm.snapshot()[0], {i: 1 for i in self.qhm.snapshot()[0]})
        self.assertEqual(self.watch.snapshot()[0], {i: 1 for i in self.watch.snapshot()[0]})
        self.assertEqual(self.gone.snapshot()[1], 0)
        self.assertEqual(self.up.terminate(30), 0, self.up.output()[-2000:])
        self.up = None


if __name__ == "__main__":
    unittest.main()
