#!/usr/bin/env python3
"""Crash test: `probity ingest` is SIGKILLed at random (seeded) moments and restarted, again and
again, while a producer streams ~100,000 events into a `probity bus` that outlives it.

  PROBITY_BIN=build/services/probity/probity python3 ingest_crash_test.py [--events N] [--kills K] [--seed S]

The stream: unique event ids over claims, referrals and visits (12 partitions), binary protobuf
and JSON, a small share of invalid messages (five kinds of rejection), and deliberate exact
redeliveries of earlier events. Everything is decided by the seed; only the kill moments
depend on timing, and nothing asserted does.

What it proves, after a final clean run drains and stops on SIGTERM (DESIGN.md invariants 1, 2
and 4):
  - every valid event id is in the log exactly once, with the bytes produced, and nothing else is;
  - every invalid message is on probity.deadletter.v1 with its reason; dead letters repeat after
    a crash only as the same record under the same probity-deadletter-seq, and the seqs are
    exactly 0..D-1 (none missing), D = the number of invalid messages;
  - probity.log.v1 carried every index 0..N-1 (repeats after a restart are allowed, gaps are not),
    read as it was written by kcat (the embedded bus keeps only ~5 MB per partition, so the topic
    is followed live, and ingest is paused with SIGSTOP while the reader is far behind);
  - `probity log verify` passes and the latest signed checkpoint covers all N entries.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probity_e2e as e2e  # noqa: E402

KCAT = os.environ.get("KCAT_BIN", "kcat")
TOPIC_PARTS = [("probity.claims.v1", 4), ("probity.referrals.v1", 4), ("probity.visits.v1", 4)]
INVALID_KINDS = ["MALFORMED_PROTOBUF", "MALFORMED_JSON", "INVALID_ODS_CODE", "WRONG_TOPIC",
                 "AMOUNT_MISMATCH"]


def build_stream(n, seed):
    """Returns (messages, valid, invalid): messages are (topic, partition, key, value, headers)
    in produce order; valid maps event id -> value; invalid maps key -> reason code."""
    rng = random.Random(seed)
    base, valid, invalid = [], {}, {}
    practices = ["A81001", "B82005", "C83001", "D84002", "E85003"]
    for i in range(n):
        ti = rng.randrange(3)
        topic, parts = TOPIC_PARTS[ti]
        partition = rng.randrange(parts)
        practice = practices[i % len(practices)]
        use_json = rng.random() < 0.3
        if rng.random() < 0.02:
            reason = INVALID_KINDS[rng.randrange(len(INVALID_KINDS))]
            key = "bad-%06d" % i
            headers = []
            if reason == "MALFORMED_PROTOBUF":
                value = b"\x08\xff\xff\xff garbage " + str(i).encode()
            elif reason == "MALFORMED_JSON":
                value, headers = b'{"event_id": "broken-%d"' % i, e2e.JSON_HEADERS
            elif reason == "INVALID_ODS_CODE":
                _, value, _ = e2e.claim("x-%06d" % i, practice="81001", pence=100 + i)
                topic, partition = "probity.claims.v1", rng.randrange(4)
            elif reason == "WRONG_TOPIC":
                _, value, _ = e2e.claim("x-%06d" % i, practice=practice, pence=100 + i)
                topic, partition = "probity.visits.v1", rng.randrange(4)
            else:  # AMOUNT_MISMATCH
                _, _, value = e2e.claim("x-%06d" % i, practice=practice, pence=100, amount=1000 + i)
                topic, partition, headers = "probity.claims.v1", rng.randrange(4), e2e.JSON_HEADERS
            invalid[key] = reason
            base.append((i, (topic, partition, key.encode(), value, headers)))
            continue
        event_id = "%s-%06d" % ("cre"[ti], i)
        if ti == 0:
            _, b, j = e2e.claim(event_id, practice=practice, pence=100 + i % 5000)
        elif ti == 1:
            _, b, j = e2e.referral(event_id, practice=practice, ubrn="%012d" % i)
        else:
            _, b, j = e2e.contact(event_id, practice=practice)
        value, headers = (j, e2e.JSON_HEADERS) if use_json else (b, [])
        valid[event_id] = value
        msg = (topic, partition, event_id.encode(), value, headers)
        base.append((i, msg))
        if rng.random() < 0.03:  # an exact redelivery later on, maybe on another partition
            base.append((i + rng.randint(1, 20000) + 0.5, (topic, rng.randrange(parts),
                                                           event_id.encode(), value, headers)))
    base.sort(key=lambda t: t[0])
    return [m for _, m in base], valid, invalid


class Streamer(threading.Thread):
    def __init__(self, bootstrap, messages, rate):
        super().__init__(daemon=True)
        self.bootstrap, self.messages, self.rate = bootstrap, messages, rate
        self.error = None
        self.done = threading.Event()

    def run(self):
        try:
            p = e2e.producer(self.bootstrap)
            start = time.monotonic()
            for i, (topic, part, key, value, headers) in enumerate(self.messages):
                while True:
                    try:
                        p.produce(topic, value=value, key=key, partition=part, headers=headers)
                        break
                    except BufferError:
                        p.poll(0.05)
                if i % 500 == 499:
                    p.poll(0)
                    ahead = (i + 1) / self.rate - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)
            e2e.flush_all(p, 120)
        except Exception as ex:  # reported by the main thread
            self.error = ex
        finally:
            self.done.set()


class ReaderGate(threading.Thread):
    """Keeps the live kcat reader of probity.log.v1 within the embedded bus's retention (~5 MB per
    partition, about 15,000 entries here): while the reader is more than `max_behind` messages
    behind the topic's end, ingest is paused with SIGSTOP, and resumed with SIGCONT once it is
    within `resume_at`. A pause is only a slow machine to ingest; without it a busy machine lets
    the bus drop entries the reader has not seen, and the gap check could not be made."""

    def __init__(self, cluster, keys_path, max_behind=6000, resume_at=1000):
        super().__init__(daemon=True)
        self.c, self.keys_path = cluster, keys_path
        self.max_behind, self.resume_at = max_behind, resume_at
        self.halt = threading.Event()
        self.pauses = 0
        self.error = None

    def run(self):
        from confluent_kafka import Consumer, TopicPartition
        cons = Consumer({"bootstrap.servers": self.c.bootstrap, "group.id": "probity-crash-gate"})
        tp = TopicPartition("probity.log.v1", 0)
        paused = None
        try:
            while not self.halt.is_set():
                _, end = cons.get_watermark_offsets(tp, timeout=5, cached=False)
                behind = end - os.path.getsize(self.keys_path) // 8
                current = self.c.ingest.p
                if paused is not None and paused is not current:
                    paused = None  # killed and replaced while paused
                if paused is None and behind > self.max_behind:
                    current.send_signal(signal.SIGSTOP)  # a no-op once the process was reaped
                    paused = current
                    self.pauses += 1
                elif paused is not None and behind <= self.resume_at:
                    paused.send_signal(signal.SIGCONT)
                    paused = None
                time.sleep(0.02)
        except Exception as ex:  # reported by the main thread
            self.error = ex
        finally:
            if paused is not None:
                paused.send_signal(signal.SIGCONT)
            cons.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--kills", type=int, default=16)
    ap.add_argument("--rate", type=float, default=5000, help="events per second produced")
    ap.add_argument("--seed", type=int, default=20240501)
    ap.add_argument("--drain-timeout", type=float, default=120)
    args = ap.parse_args()
    probity = os.environ.get("PROBITY_BIN", "")
    assert os.access(probity, os.X_OK), "set PROBITY_BIN to the probity binary"

    t0 = time.monotonic()
    messages, valid, invalid = build_stream(args.events, args.seed)
    print("stream: %d messages, %d valid event ids, %d invalid, %d redeliveries (seed %d)"
          % (len(messages), len(valid), len(invalid), len(messages) - len(valid) - len(invalid),
             args.seed), flush=True)

    with e2e.Cluster(probity, "crash", seed=args.seed) as c:
        c.start_bus()
        c.keygen()
        # Follow probity.log.v1 live with kcat: raw 8-byte keys, one after another. An offset
        # that has left the bus ends kcat with an error rather than skipping it.
        keys_path = os.path.join(c.dir, "log-keys.bin")
        keys_file = open(keys_path, "wb")
        reader_err = open(os.path.join(c.dir, "kcat.err"), "wb")
        reader = subprocess.Popen([KCAT, "-b", c.bootstrap, "-C", "-q", "-u", "-t", "probity.log.v1",
                                   "-p", "0", "-o", "beginning", "-f", "%k",
                                   "-X", "auto.offset.reset=error", "-X", "fetch.wait.max.ms=10",
                                   "-X", "queued.min.messages=1000000"],
                                  stdout=keys_file, stderr=reader_err,
                                  preexec_fn=e2e._child_setup)
        try:
            run(c, args, messages, valid, invalid, keys_path, reader, t0)
        finally:
            if reader.poll() is None:
                reader.kill()
            reader.wait()
            keys_file.close()
            reader_err.close()
    print("PASS in %.1f s" % (time.monotonic() - t0))


def run(c, args, messages, valid, invalid, keys_path, reader, t0):  # noqa: C901
    rng = random.Random(args.seed ^ 0x5EED)
    streamer = Streamer(c.bootstrap, messages, args.rate)
    start_ingest = c.start_ingest
    start_ingest()
    gate = ReaderGate(c, keys_path)
    gate.start()
    streamer.start()
    for k in range(args.kills):
        # Mostly mid-stream, sometimes while ingest is still starting up (catch-up, assignment).
        delay = rng.uniform(0.02, 0.4) if rng.random() < 0.25 else rng.uniform(0.5, 3.0)
        time.sleep(delay)
        if c.ingest.p.poll() is not None:
            raise AssertionError("ingest exited by itself (%s):\n%s"
                                 % (c.ingest.p.returncode, c.ingest.output()[-3000:]))
        c.ingest.p.send_signal(signal.SIGKILL)
        c.ingest.p.wait()
        c.ingest.log.close()
        print("  kill %d after %.2f s (t=%.1f s)" % (k + 1, delay, time.monotonic() - t0), flush=True)
        start_ingest()
    streamer.done.wait(300)
    if streamer.error is not None or not streamer.done.is_set():
        raise AssertionError("producer failed: %s" % streamer.error)
    print("produced everything at t=%.1f s; draining" % (time.monotonic() - t0), flush=True)

    n_valid, n_invalid = len(valid), len(invalid)
    c.wait_ingest_ready()
    c.wait_health(lambda h: h["consumer_lag"] == 0 and h["log_published"] == h["log_size"]
                  and h["log_size"] + h["dead_letters"] >= n_valid + n_invalid,
                  args.drain_timeout, "ingest to drain")
    time.sleep(0.5)  # anything beyond the expected counts would show now
    gate.halt.set()
    gate.join()
    if gate.error is not None:
        raise AssertionError("reader gate failed: %r" % gate.error)
    rc = c.ingest.terminate(60)
    assert rc == 0, c.ingest.output()
    print("drained and stopped at t=%.1f s: %s" % (time.monotonic() - t0,
                                                   c.ingest.output().strip().splitlines()[-1]),
          flush=True)

    failures = []

    # 1. The log: every valid event id exactly once, with its bytes; nothing else.
    entries = c.log_entries()
    if [e["index"] for e in entries] != list(range(len(entries))):
        failures.append("log list is not indexes 0..N-1")
    counts = {}
    for e in entries:
        r = e["record"]
        eid = r.get("event_id", "")
        counts[eid] = counts.get(eid, 0) + 1
        if eid in valid and r["payload"] != e2e.b64(valid[eid]):
            failures.append("entry %d (%s) holds other bytes than produced" % (e["index"], eid))
    missing = [eid for eid in valid if eid not in counts]
    twice = [eid for eid, n in counts.items() if n > 1]
    extra = [eid for eid in counts if eid not in valid]
    if missing:
        failures.append("%d valid events missing from the log, e.g. %s" % (len(missing), missing[:5]))
    if twice:
        failures.append("%d events appended more than once, e.g. %s" % (len(twice), twice[:5]))
    if extra:
        failures.append("%d unexpected entries, e.g. %s" % (len(extra), extra[:5]))
    n = len(entries)

    # 2. Dead letters on the topic: seqs 0..D-1, repeats identical, every invalid key once.
    dls = e2e.read_topic(c.bootstrap, "probity.deadletter.v1", n_invalid, 60)
    by_seq = {}
    for m in dls:
        seq = dict(m.headers() or []).get("probity-deadletter-seq")
        if seq is None:
            failures.append("a dead letter without probity-deadletter-seq")
            continue
        seq = int(seq)
        if seq in by_seq and by_seq[seq] != m.value():
            failures.append("dead letter seq %d repeated with other bytes" % seq)
        by_seq[seq] = m.value()
    if set(by_seq) != set(range(n_invalid)):
        gaps = sorted(set(range(n_invalid)) - set(by_seq))
        failures.append("dead-letter seqs are not exactly 0..%d: missing %s, extra %s"
                        % (n_invalid - 1, gaps[:10], sorted(set(by_seq) - set(range(n_invalid)))[:10]))
    seen = {}
    for seq, value in by_seq.items():
        d = e2e.parse_dead_letter(value)
        key = d["original_key"].decode()
        seen[key] = seen.get(key, 0) + 1
        if invalid.get(key) != d["reason_code"]:
            failures.append("dead letter %d for %r: reason %s, expected %s (%s)"
                            % (seq, key, d["reason_code"], invalid.get(key), d["message"]))
    if set(seen) != set(invalid) or any(v != 1 for v in seen.values()):
        failures.append("dead letters do not match the invalid messages one to one: missing %s, "
                        "repeated %s" % (sorted(set(invalid) - set(seen))[:5],
                                         [k for k, v in seen.items() if v > 1][:5]))
    stored = c.store_dead_letters()
    if len(stored) != n_invalid:
        failures.append("store holds %d dead letters, expected %d" % (len(stored), n_invalid))

    # 3. probity.log.v1 carried every index 0..N-1.
    time.sleep(0.5)
    if reader.poll() is not None:
        with open(os.path.join(c.dir, "kcat.err"), "rb") as f:
            err = f.read().decode(errors="replace")
        failures.append("kcat stopped following probity.log.v1 (%s): %s" % (reader.returncode, err))
    deadline = time.monotonic() + 30
    while True:
        with open(keys_path, "rb") as f:
            raw = f.read()
        indexes = set(int.from_bytes(raw[i:i + 8], "big") for i in range(0, len(raw) - 7, 8))
        if len(indexes) >= n or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if len(raw) % 8:
        failures.append("log topic keys are not 8 bytes each")
    if indexes != set(range(n)):
        gaps = sorted(set(range(n)) - indexes)
        failures.append("probity.log.v1 is missing %d of %d indexes, e.g. %s; extra: %s"
                        % (len(gaps), n, gaps[:10], sorted(indexes - set(range(n)))[:5]))
    repeats = len(raw) // 8 - len(indexes)

    # 4. Verification and the final checkpoint.
    v = c.cli("log", "verify", "--json", check=False)
    if v.returncode != 0 or b'"ok":true,"entries":%d' % n not in v.stdout:
        failures.append("log verify failed: %s %s" % (v.stdout, v.stderr))
    cp = c.cli("log", "checkpoint").stdout.decode().splitlines()
    if len(cp) < 2 or cp[1] != str(n):
        failures.append("latest checkpoint is not of size %d: %s" % (n, cp[:3]))

    print("log: %d entries (%d valid ids), dead letters: %d seqs from %d messages, log topic: %d "
          "messages, %d repeats after restarts; %d ingest runs, %d pauses for the log reader"
          % (n, len(valid), len(by_seq), len(dls), len(raw) // 8, repeats, c.ingest_runs, gate.pauses))
    if failures:
        raise AssertionError("crash test failed:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    main()
