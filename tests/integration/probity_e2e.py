"""Helpers for end-to-end tests that drive the real `probity` binary with outside Kafka clients.

Only the standard library and confluent_kafka (Debian's python3-confluent-kafka). Probity's
messages are built here by hand, in both encodings: binary protobuf through a few lines of
wire-format encoding (so the test does not depend on python3-protobuf, and it checks the schema
from outside rather than through the C++ code under test), and the protobuf JSON mapping.

Processes: every child runs in its own process group with PR_SET_PDEATHSIG=SIGKILL, so a test
that dies (or that ctest kills on timeout) leaves nothing behind; Cluster.close() stops them on
every normal exit path.
"""

import base64
import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import confluent_kafka  # noqa: F401
except ImportError:  # pragma: no cover - environment problem, say what to install
    sys.stderr.write("confluent_kafka is missing: install Debian's python3-confluent-kafka "
                     "(tools/install-deps) and run with /usr/bin/python3\n")
    raise

PORT_RANGE = (40000, 40999)  # this suite's ports (other suites use other ranges)

INPUT_TOPICS = {
    "probity.claims.v1": 4, "probity.referrals.v1": 4, "probity.visits.v1": 4,
    "probity.practices.v1": 1, "probity.rulesets.v1": 1, "probity.flags.v1": 1,
    "probity.decisions.v1": 1, "probity.payment-instructions.v1": 1,
    "probity.access.v1": 1, "probity.policies.v1": 1, "probity.control.v1": 1,
}
OUTPUT_TOPICS = {"probity.log.v1": 1, "probity.deadletter.v1": 1, "probity.checkpoints.v1": 1}


# ------------------------------------------------------------------------------------------------
# Protobuf wire format, just enough for Probity's envelopes and records.

def _varint(n):
    n &= (1 << 64) - 1  # negative int64 as two's complement, as protobuf does
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_varint(field, n):
    return _varint(field << 3) + _varint(n) if n else b""


def pb_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return _varint(field << 3 | 2) + _varint(len(b)) + b if b else b""


def pb_ts(field, seconds):
    return pb_bytes(field, pb_varint(1, seconds))


def pb_decode(buf):
    """Decodes one message level: {field_number: [values]} (ints for varints, bytes otherwise)."""
    fields, i = {}, 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _read_varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        fields.setdefault(field, []).append(v)
    return fields


def _read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def parse_dead_letter(value):
    """probity.v1.DeadLetter (proto/probity/v1/log.proto) as a dict of the fields tests use."""
    f = pb_decode(value)
    one = lambda n, d=b"": f.get(n, [d])[0]  # noqa: E731
    return {
        "original_key": one(1),
        "original_value": one(2),
        "headers": [(pb_decode(h).get(1, [b""])[0], pb_decode(h).get(2, [b""])[0]) for h in f.get(3, [])],
        "source_topic": one(4).decode(),
        "source_partition": one(5, 0),
        "source_offset": one(6, 0),
        "reason_code": one(7).decode(),
        "message": one(8).decode(),
    }


# ------------------------------------------------------------------------------------------------
# Events (docs/events.md). Each builder returns (topic, binary_bytes, json_bytes).

JUL_2022 = 1656633600  # 2022-07-01T00:00:00Z


def _iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def claim(event_id, practice="A81001", pence=1000, occurred=JUL_2022, amount=None):
    amount = pence if amount is None else amount
    body = (pb_bytes(1, "C-" + event_id) + pb_varint(2, 1) + pb_bytes(3, "GSUM") +
            pb_ts(5, occurred - 30 * 86400) + pb_ts(6, occurred - 86400) + pb_varint(7, 1) +
            pb_varint(8, pence) + pb_varint(9, amount) + pb_varint(14, 1))
    binary = (pb_bytes(1, event_id) + pb_varint(2, 1) + pb_varint(3, 1) + pb_bytes(4, practice) +
              pb_ts(5, occurred) + pb_bytes(7, "e2e") + pb_bytes(10, body))
    js = {"event_id": event_id, "kind": "EVENT_KIND_CLAIM", "schema_version": 1,
          "practice_code": practice, "occurred_at": _iso(occurred), "source_system": "e2e",
          "claim": {"claim_id": "C-" + event_id, "stream": "PAYMENT_STREAM_GLOBAL_SUM",
                    "service_code": "GSUM", "period_start": _iso(occurred - 30 * 86400),
                    "period_end": _iso(occurred - 86400), "quantity": "1",
                    "unit_price_pence": str(pence), "amount_pence": str(amount),
                    "status": "CLAIM_STATUS_SUBMITTED"}}
    return "probity.claims.v1", binary, json.dumps(js, separators=(",", ":")).encode()


def padded_json(event_id, size):
    """A valid JSON claim of exactly `size` bytes (whitespace before the closing brace)."""
    _, _, j = claim(event_id)
    pad = size - len(j)
    assert pad >= 0
    return j[:-1] + b" " * pad + b"}"


def padded_binary(event_id, size):
    """A valid binary claim of exactly `size` bytes: the envelope's source_system (field 7) given
    again and again (protobuf keeps the last one, "e2e"), with one filler of the right length."""
    _, b, _ = claim(event_id)
    unit = pb_bytes(7, "e2e")
    out = bytearray(b)
    # Leave room for one filler (2-byte header plus 1..100 bytes) and the final unit.
    while len(out) + len(unit) + 2 + 100 + len(unit) < size:
        out += unit
    filler = size - len(out) - len(unit) - 2
    assert 1 <= filler <= 127, filler
    out += pb_bytes(7, "s" * filler) + unit
    assert len(out) == size, (len(out), size)
    return bytes(out)


def referral(event_id, practice="B82005", ubrn="000123456789", occurred=JUL_2022):
    body = pb_bytes(1, ubrn) + pb_bytes(3, "320") + pb_varint(4, 1)
    binary = (pb_bytes(1, event_id) + pb_varint(2, 2) + pb_varint(3, 1) + pb_bytes(4, practice) +
              pb_ts(5, occurred) + pb_bytes(7, "e2e") + pb_bytes(11, body))
    js = {"event_id": event_id, "kind": "EVENT_KIND_REFERRAL", "schema_version": 1,
          "practice_code": practice, "occurred_at": _iso(occurred), "source_system": "e2e",
          "referral": {"ubrn": ubrn, "treatment_function_code": "320",
                       "priority": "REFERRAL_PRIORITY_ROUTINE"}}
    return "probity.referrals.v1", binary, json.dumps(js, separators=(",", ":")).encode()


def contact(event_id, practice="C83001", occurred=JUL_2022):
    body = pb_bytes(1, "K-" + event_id) + pb_varint(2, 2) + pb_varint(3, 1)
    binary = (pb_bytes(1, event_id) + pb_varint(2, 3) + pb_varint(3, 1) + pb_bytes(4, practice) +
              pb_ts(5, occurred) + pb_bytes(7, "e2e") + pb_bytes(12, body))
    js = {"event_id": event_id, "kind": "EVENT_KIND_PATIENT_CONTACT", "schema_version": 1,
          "practice_code": practice, "occurred_at": _iso(occurred), "source_system": "e2e",
          "patient_contact": {"contact_id": "K-" + event_id, "mode": "CONTACT_MODE_TELEPHONE",
                              "attendance": "ATTENDANCE_ATTENDED"}}
    return "probity.visits.v1", binary, json.dumps(js, separators=(",", ":")).encode()


JSON_HEADERS = [("content-type", b"application/json")]
PROTOBUF_HEADERS = [("content-type", b"application/x-protobuf")]


# ------------------------------------------------------------------------------------------------
# Processes

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _child_setup():
    os.setpgid(0, 0)
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port(rng=random):
    """A loopback port in PORT_RANGE that nothing listens on now (the caller retries if it loses
    the race)."""
    for _ in range(200):
        port = rng.randint(*PORT_RANGE)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in %s" % (PORT_RANGE,))


class Proc:
    def __init__(self, args, log_path):
        self.args = args
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, preexec_fn=_child_setup)

    @property
    def pid(self):
        return self.p.pid

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_output(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.output())
            if m:
                return m
            if self.p.poll() is not None:
                return re.search(pattern, self.output())
            time.sleep(0.05)
        return None

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.log.close()

    def terminate(self, timeout):
        """SIGTERM, wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise AssertionError("%s did not stop within %ss of SIGTERM:\n%s"
                                     % (self.args[:2], timeout, self.output()[-3000:]))
        self.log.close()
        return self.p.returncode


class Cluster:
    """`probity bus` plus `probity ingest` as separate processes, in a fresh temporary directory."""

    def __init__(self, probity, name, seed=1):
        self.probity = probity
        self.rng = random.Random(seed)
        self.dir = tempfile.mkdtemp(prefix="probity_%s_" % name)
        self.data_dir = os.path.join(self.dir, "data")
        self.bus = None
        self.ingest = None
        self.ingest_runs = 0
        self.http_port = None
        self.bootstrap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(keep=exc[0] is not None)

    def close(self, keep=False):
        for p in (self.ingest, self.bus):
            if p is not None and p.p.poll() is None:
                p.kill()
        if keep or os.environ.get("PROBITY_KEEP_TMP"):
            sys.stderr.write("kept %s for inspection\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def start_bus(self):
        for _ in range(10):
            port = free_port(self.rng)
            bus = Proc([self.probity, "bus", "--port", str(port)], os.path.join(self.dir, "bus.log"))
            if bus.wait_output(r"Serving until", 20) and bus.p.poll() is None:
                self.bus = bus
                self.bootstrap = "127.0.0.1:%d" % port
                return
            bus.kill()  # most likely lost the port to someone else: try another
        raise AssertionError("probity bus did not start:\n" + bus.output())

    def keygen(self):
        key_dir = os.path.join(self.dir, "keys")
        subprocess.run([self.probity, "keygen", "--name", "probity.test/log", "--out-dir", key_dir],
                       check=True, stdout=subprocess.DEVNULL)
        self.key = os.path.join(key_dir, "probity.key")

    def start_ingest(self, extra=(), prefix=()):
        self.ingest_runs += 1
        log = os.path.join(self.dir, "ingest.%d.log" % self.ingest_runs)
        self.ingest = Proc([*prefix, self.probity, "ingest", "--bootstrap-servers", self.bootstrap,
                            "--data-dir", self.data_dir, "--signing-key", self.key,
                            "--origin", "probity.test/log", "--http-port", "0",
                            "--checkpoint-interval-ms", "200", *extra], log)
        return self.ingest

    def wait_ingest_ready(self, timeout=30):
        m = self.ingest.wait_output(r"http://127\.0\.0\.1:(\d+)/metrics", timeout)
        if not m:
            raise AssertionError("ingest did not start:\n" + self.ingest.output())
        self.http_port = int(m.group(1))

    def health(self):
        url = "http://127.0.0.1:%d/healthz" % self.http_port
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())

    def wait_health(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        h = None
        while time.monotonic() < deadline:
            try:
                h = self.health()
                if pred(h):
                    return h
            except OSError:
                pass
            if self.ingest.p.poll() is not None:
                raise AssertionError("ingest exited (%s) while waiting for %s:\n%s"
                                     % (self.ingest.p.returncode, what, self.ingest.output()[-3000:]))
            time.sleep(0.1)
        raise AssertionError("timed out after %ss waiting for %s; last health: %s" % (timeout, what, h))

    # --- the read-only CLI --------------------------------------------------------------------

    def cli(self, *args, check=True):
        r = subprocess.run([self.probity, *args, "--data-dir", self.data_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError("probity %s failed (%d): %s" % (" ".join(args), r.returncode,
                                                                 r.stderr.decode(errors="replace")))
        return r

    def log_entries(self):
        out = self.cli("log", "list", "--json", "--limit", "100000000").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def store_dead_letters(self):
        out = self.cli("log", "deadletters", "--json", "--limit", "100000000").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def b64(b):
    return base64.b64encode(b).decode()


def read_topic(bootstrap, topic, want, timeout, partitions=1):
    """Reads a topic from the beginning with confluent_kafka until `want` messages arrived (then a
    short grace for any more) or the timeout. Returns confluent_kafka Messages."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "probity-e2e-reader",
                  "enable.auto.commit": False, "auto.offset.reset": "error",
                  "enable.partition.eof": False})
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        got = []
        deadline = time.monotonic() + timeout
        grace_until = None
        while time.monotonic() < deadline:
            for m in c.consume(num_messages=10000, timeout=0.2):
                if m.error():
                    raise AssertionError("reading %s: %s" % (topic, m.error()))
                got.append(m)
            if len(got) >= want:
                grace_until = grace_until or time.monotonic() + 0.5
                if time.monotonic() >= grace_until:
                    break
        return got
    finally:
        c.close()


def producer(bootstrap, **extra):
    from confluent_kafka import Producer
    conf = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5,
            "queue.buffering.max.messages": 1000000}
    conf.update(extra)
    return Producer(conf)


def flush_all(p, timeout=60):
    left = p.flush(timeout)
    if left:
        raise AssertionError("%d messages not delivered to the bus" % left)
