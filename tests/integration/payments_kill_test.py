#!/usr/bin/env python3
"""Kill test: `probity payments` is SIGKILLed at random (seeded) moments and restarted, again and
again, beside a `probity bus` and a `probity ingest` that outlive it, while claims, flags and
decisions stream in.

  PROBITY_BIN=build/services/probity/probity python3 payments_kill_test.py [--claims N] [--kills K] [--seed S]

The stream (decided by the seed): N claims of five practices with a day of event time between
them, a flag naming every fifth claim (on probity.flags.v1, as the rules target would send it),
and decisions upholding or dismissing those flags. The payments target holds, releases,
withholds and approves; each restart replays from its last save and republishes.

What it proves (DESIGN.md invariant 4, docs/payments.md "Instructions"):
  - no instruction repeated: every PAYMENT_INSTRUCTION in the log has its own instruction id
    (republished instructions are the same bytes, which ingest drops as exact redeliveries);
  - no instruction lost: a fresh payments target (empty state, the same policy publication)
    replayed over the final log publishes nothing the log does not already hold (the log does not
    grow), and it published at least one instruction for every claim whose wait passed;
  - consumers of probity.payment-instructions.v1 may see repeats (it prints how many), never two
    different messages for one instruction id.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probity_e2e as e2e  # noqa: E402

RULES = """name: payments-kill
version: "1"
rules:
  - id: ios-duplicate
    version: 1
    kind: duplicate_item_of_service
    severity: warning
    description: The same item of service claimed twice for one patient in a year.
    params: {intervals: {LDHC: financial_year}}
"""

POLICY = """name: kill-holds
version: "1"
approve_after_days: 3
cutoff_days: 5
holds:
  - rule: ios-duplicate
    scope: claim
"""

PRACTICES = ["A81001", "B82005", "C83001", "D84002", "E85003"]
T0 = 1656633600  # 2022-07-01


def js(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def flag(i, claim_id, practice, t):
    fid = "%064x" % (0xF1A6 * 1000003 + i)
    return fid, js({"event_id": fid, "kind": "EVENT_KIND_FLAG", "schema_version": 1,
                    "practice_code": practice, "occurred_at": e2e._iso(t),
                    "source_system": "probity-rules",
                    "flag": {"flag_id": fid, "rule_id": "ios-duplicate",
                             "rule_kind": "duplicate_item_of_service",
                             "severity": "SEVERITY_WARNING", "claim_id": claim_id,
                             "summary": "test flag %d" % i}})


def decision(i, fid, practice, outcome, t):
    return js({"event_id": "dec-%d" % i, "kind": "EVENT_KIND_FLAG_DECISION", "schema_version": 1,
               "practice_code": practice, "occurred_at": e2e._iso(t), "source_system": "e2e",
               "flag_decision": {"flag_id": fid, "outcome": outcome, "reason": "kill test",
                                 "decided_by": "cm@test"}})


def build_stream(n, rng):
    """(topic, key, value) in produce order: claims, flags on every fifth, decisions later."""
    out, open_flags = [], []
    for i in range(n):
        practice = PRACTICES[i % len(PRACTICES)]
        t = T0 + i * 86400 // 4
        topic, _, value = e2e.claim("k-%05d" % i, practice=practice, pence=100 + i, occurred=t)
        out.append((topic, practice, value))
        if i % 5 == 0:
            fid, v = flag(i, "C-k-%05d" % i, practice, t)
            out.append(("probity.flags.v1", practice, v))
            open_flags.append((fid, practice))
        if i % 7 == 3 and open_flags:
            fid, p = open_flags.pop(rng.randrange(len(open_flags)))
            outcome = "DECISION_OUTCOME_UPHOLD" if rng.random() < 0.5 else "DECISION_OUTCOME_DISMISS"
            out.append(("probity.decisions.v1", p, decision(i, fid, p, outcome, t)))
    return out


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+]+)$" % re.escape(name), text, re.M)
    return int(float(m.group(1))) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=1500)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    probity = os.environ.get("PROBITY_BIN")
    if not probity:
        sys.exit("set PROBITY_BIN to the probity binary")
    rng = random.Random(args.seed)
    started = time.monotonic()
    with e2e.Cluster(probity, "payments_kill", seed=args.seed) as c:
        rules_file = os.path.join(c.dir, "rules.yaml")
        policy_file = os.path.join(c.dir, "policy.yaml")
        with open(rules_file, "w") as f:
            f.write(RULES)
        with open(policy_file, "w") as f:
            f.write(POLICY)
        c.start_bus()
        c.keygen()
        c.start_ingest()
        c.wait_ingest_ready()

        runs = [0]

        def start_payments(data_dir):
            runs[0] += 1
            p = e2e.Proc([probity, "payments", "--bootstrap-servers", c.bootstrap,
                          "--data-dir", data_dir, "--rules", rules_file,
                          "--hold-policy", policy_file, "--http-port", "0"],
                         os.path.join(c.dir, "payments.%d.log" % runs[0]))
            m = p.wait_output(r"health on http://127\.0\.0\.1:(\d+)", 30)
            if not m:
                raise AssertionError("payments did not start:\n" + p.output()[-3000:])
            return p, int(m.group(1))

        # The stream goes in while payments is killed and restarted.
        stream = build_stream(args.claims, rng)
        prod = e2e.producer(c.bootstrap)
        claims = sum(1 for t, _, _ in stream if t == "probity.claims.v1")
        cut = sorted(rng.sample(range(1, len(stream)), args.kills))
        pos = 0
        kills = 0
        for k in range(args.kills + 1):
            p, _ = start_payments(c.data_dir)
            end = cut[k] if k < args.kills else len(stream)
            for topic, key, value in stream[pos:end]:
                prod.produce(topic, value, key=key, headers=e2e.JSON_HEADERS)
            prod.poll(0)
            pos = end
            e2e.flush_all(prod)
            if k < args.kills:
                time.sleep(rng.uniform(0.05, 1.5))
                os.kill(p.pid, signal.SIGKILL)
                p.kill()
                kills += 1
        # The last life runs until the log stops growing and it has applied all of it.
        m = re.search(r"health on http://127\.0\.0\.1:(\d+)", p.output())
        port = int(m.group(1))
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            h = c.health()
            size = h["log_size"] if h["consumer_lag"] == 0 else -1
            nxt = metric(port, "probity_payments_next_index")
            if size > 0 and nxt == size and size == last:
                if time.monotonic() - stable_since > 2:
                    break
            else:
                stable_since = time.monotonic()
            last = size
            time.sleep(0.2)
        else:
            raise AssertionError("payments did not catch up with the log: %s" % p.output()[-2000:])
        assert p.terminate(20) == 0, p.output()[-2000:]

        entries = c.log_entries()
        size_before = len(entries)
        ids = [e["record"].get("event_id") for e in entries
               if e["record"].get("kind") == "EVENT_KIND_PAYMENT_INSTRUCTION"]
        assert len(ids) == len(set(ids)), "an instruction id is logged twice"
        logged_claims = sum(1 for e in entries if e["record"].get("kind") == "EVENT_KIND_CLAIM")
        assert logged_claims == claims, (logged_claims, claims)

        # The reference: a fresh target over the final log, with the same policy publication.
        ref_dir = os.path.join(c.dir, "ref")
        os.makedirs(os.path.join(ref_dir, "payments"))
        for name in os.listdir(os.path.join(c.data_dir, "payments")):
            if name.startswith("published-"):
                shutil.copy(os.path.join(c.data_dir, "payments", name),
                            os.path.join(ref_dir, "payments", name))
        ref, ref_port = start_payments(ref_dir)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if metric(ref_port, "probity_payments_next_index") == size_before:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the reference did not catch up: %s" % ref.output()[-2000:])
        time.sleep(2)  # anything it published has reached ingest by now
        assert ref.terminate(20) == 0, ref.output()[-2000:]
        m = re.search(r"(\d+) instructions published", ref.output())
        ref_published = int(m.group(1)) if m else -1
        c.wait_health(lambda h: h["consumer_lag"] == 0, 30, "ingest to drain")
        after = c.log_entries()
        new = after[size_before:]
        assert not new, "the reference added %d entries: an instruction was lost: %s" % (
            len(new), [e["record"].get("event_id") for e in new[:5]])
        assert ref_published == len(ids), (ref_published, len(ids))

        # The topic: repeats allowed (consumers dedupe by instruction id), never two different
        # messages under one id.
        msgs = e2e.read_topic(c.bootstrap, "probity.payment-instructions.v1", len(ids), 30)
        by_id = {}
        for msg in msgs:
            v = msg.value()
            key = re.search(rb"[0-9a-f]{64}", v)
            by_id.setdefault(key.group(0) if key else v, set()).add(v)
        assert all(len(vs) == 1 for vs in by_id.values()), "two messages under one id"
        print("payments kill test: %d kills, %d claims, %d instructions logged once each, "
              "%d messages on the topic (%d repeats), the reference replay added nothing; %.1f s"
              % (kills, claims, len(ids), len(msgs), len(msgs) - len(by_id),
                 time.monotonic() - started))
        c.ingest.terminate(20)


if __name__ == "__main__":
    main()
