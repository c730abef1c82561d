#!/usr/bin/python3
"""The soak (issue 10): the whole stack as separate processes on the embedded bus, a realistic
generated feed mixed with bad input of every kind and at every size limit, and random SIGKILLs of
ingest, rules, alerts and a replica throughout; then it checks that nothing was lost, repeated or
hidden, and that the replica holds the sequencer's log byte for byte.

  tools/soak/soak.py [--minutes 20] [--kill-every 0.5] [--seed 1] [--scale 0.01] [--keep]

Processes: `probity bus`, `probity ingest`, `probity rules`, `probity alerts` and `probity replica`
(each following probity.log.v1 and verifying probity.checkpoints.v1 with the log's key, catching
up from ingest's store when retention has taken what they need), and a real Alertmanager (Debian's
prometheus-alertmanager). The feed is `probity generate --out`
(the national generator on the real 2022-23 register, at --scale), produced at --rate while the
killer picks a target at random every --kill-every seconds on average, SIGKILLs it and restarts
it. When the feed is in, the killer stops, everything settles, and the soak checks:

  - every generated event is in the log exactly once, and every bad input is dead-lettered with
    its reason (in the store, with its original bytes);
  - every flag is logged once (no flag id twice), and Alertmanager holds exactly one alert per
    flag (it re-sends open alerts by design, so alerts are counted per flag, not per POST);
  - ingest's cursors: every entry and dead letter confirmed on the bus (log_published == log_size,
    dead_letters_published == dead_letters), and the part of probity.log.v1 the embedded bus still
    holds has every index once (repeats after a restart are allowed, gaps are not);
  - `probity log verify` passes;
  - the replica: `probity replica compare` finds its copy equal to ingest's store byte for byte
    (entries, tiles, indexes, tree; each checkpoint it holds, and the latest), `probity log verify`
    passes on the copy, and no restart of the replica started behind where its last life had
    reached (its /healthz next_index just before each kill; no rollback).

It prints those counts as one JSON object and exits 0 when every check holds, 1 otherwise. The
test suite runs a short version (`--minutes 1.5`); docs/operations.md records a long run.
"""

import argparse
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import probity_e2e as e2e  # noqa: E402

e2e.PORT_RANGE = (42000, 42999)  # the soak's ports
VALUE_LIMIT = 1048576
KEY_HEADER_LIMIT = 16384
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def read_feed(path):
    """The generator's event file (services/generate/record_format.h): [(topic, key, envelope)]."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"PRBGEN01", "not a generator file"
    out, i = [], 8
    while i < len(data):
        fields = []
        for _ in range(3):
            (n,) = struct.unpack_from("<I", data, i)
            fields.append(data[i + 4:i + 4 + n])
            i += 4 + n
        i += 4  # crc32, checked by the generator's own reader tests
        out.append((fields[0].decode(), fields[1], fields[2]))
    return out


def bad_inputs(rng, big):
    """Bad messages of every kind the feed can carry and, when `big`, messages at the value limit
    (valid ones at the limit go to the log); every group has one at the key-and-headers limit.
    Returns [(topic, key, value, headers, reason or None)]."""
    J = e2e.JSON_HEADERS
    out = []
    n = rng.randrange(1 << 30)
    _, b, j = e2e.claim("soak-bad-%d" % n)
    out.append(("probity.claims.v1", b"garbage", b"\x08\xff\xff\xff garbage", [], "MALFORMED_PROTOBUF"))
    out.append(("probity.claims.v1", b"broken", b'{"event_id": ', J, "MALFORMED_JSON"))
    out.append(("probity.claims.v1", b"ctl", j.replace(b'"e2e"', b'"e\x01e"'), J, "MALFORMED_JSON"))
    out.append(("probity.claims.v1", b"dup", b'{"event_id":"a","event_id":"b"}', J, "MALFORMED_JSON"))
    out.append(("probity.claims.v1", b"unknown", j[:-1] + b',"colour":"red"}', J, "UNKNOWN_FIELD"))
    out.append(("probity.claims.v1", b"ods", e2e.claim("soak-ods-%d" % n, practice="81001")[1], [],
                "INVALID_ODS_CODE"))
    out.append(("probity.visits.v1", b"topic", e2e.claim("soak-topic-%d" % n)[1], [], "WRONG_TOPIC"))
    out.append(("probity.claims.v1", b"ct", b, [("content-type", b"text/csv")], "UNSUPPORTED_CONTENT_TYPE"))
    out.append(("probity.visits.v1", b"empty", b"", [], "EMPTY_MESSAGE"))
    out.append(("probity.claims.v1", b"amount", e2e.claim("soak-amt-%d" % n, pence=100, amount=5)[2], J,
                "AMOUNT_MISMATCH"))
    out.append(("probity.claims.v1", b"future", e2e.claim("soak-fut-%d" % n, occurred=4102444800)[1], [],
                "TIMESTAMP_IN_FUTURE"))
    size = rng.choice([VALUE_LIMIT - 1, VALUE_LIMIT, VALUE_LIMIT + 1])
    reason = None if size <= VALUE_LIMIT else "MESSAGE_TOO_LARGE"
    if not big:
        pass
    elif rng.random() < 0.5:
        out.append(("probity.claims.v1", b"big-json", e2e.padded_json("soak-bj-%d" % n, size), J, reason))
    else:
        out.append(("probity.claims.v1", b"big-bin", e2e.padded_binary("soak-bb-%d" % n, size), [], reason))
    size = rng.choice([KEY_HEADER_LIMIT - 1, KEY_HEADER_LIMIT, KEY_HEADER_LIMIT + 1])
    out.append(("probity.claims.v1", b"k" * size, e2e.claim("soak-key-%d" % n)[1], [],
                None if size <= KEY_HEADER_LIMIT else "MESSAGE_TOO_LARGE"))
    return out


class Stack:
    def __init__(self, probity, work, seed):
        self.c = e2e.Cluster(probity, "soak", seed=seed)
        self.probity = probity
        self.procs = {}
        self.runs = {"ingest": 0, "rules": 0, "alerts": 0, "replica": 0}
        self.replica_reached = 0  # the replica's next_index seen last before a kill
        self.replica_rollbacks = []  # (reached before the kill, next_index after the restart)
        self.lock = threading.Lock()

    def start_alertmanager(self):
        port = e2e.free_port(self.c.rng)
        d = os.path.join(self.c.dir, "am")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "am.yml"), "w") as f:
            f.write("route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n")
        self.am = e2e.Proc([ALERTMANAGER, "--config.file=" + os.path.join(d, "am.yml"),
                            "--storage.path=" + os.path.join(d, "data"),
                            "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address="],
                           os.path.join(d, "am.log"))
        self.am_url = "http://127.0.0.1:%d" % port
        for _ in range(100):
            try:
                with urllib.request.urlopen(self.am_url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("alertmanager did not start:\n" + self.am.output())

    def start(self, target):
        c = self.c
        self.runs[target] += 1
        log = os.path.join(c.dir, "%s.%d.log" % (target, self.runs[target]))
        follow = ["--bootstrap-servers", c.bootstrap, "--http-port", "0", "--catch-up-from",
                  os.path.join(c.data_dir, "log"), "--log-key", c.key[:-len(".key")] + ".pub",
                  "--data-dir", os.path.join(c.dir, target)]
        if target == "ingest":
            p = c.start_ingest()
        elif target == "rules":
            p = e2e.Proc([self.probity, "rules", *follow], log)
        elif target == "alerts":
            p = e2e.Proc([self.probity, "alerts", "--alertmanager-url", self.am_url, *follow], log)
        else:
            p = e2e.Proc([self.probity, "replica", *follow], log)
        self.procs[target] = p
        if target == "replica" and self.runs[target] > 1:
            # No rollback: a restarted replica resumes at or after where the killed one was.
            now = self.follower_next(target, timeout=20)
            if now is not None and now < self.replica_reached:
                self.replica_rollbacks.append((self.replica_reached, now))
        return p

    def kill(self, target):
        p = self.procs[target]
        if target == "replica":
            reached = self.follower_next(target)
            if reached is not None:
                self.replica_reached = max(self.replica_reached, reached)
        if p.p.poll() is None:
            p.p.send_signal(signal.SIGKILL)
        p.p.wait()
        p.log.close()
        return p.p.returncode

    def follower_next(self, target, timeout=1):
        """The next index a running follower (rules, alerts, replica) will process, from its
        /healthz."""
        m = self.procs[target].wait_output(r"health on http://127\.0\.0\.1:(\d+)/healthz", timeout)
        if not m:
            return None
        try:
            with urllib.request.urlopen("http://127.0.0.1:%s/healthz" % m.group(1), timeout=2) as r:
                return json.loads(r.read())["next_index"]
        except urllib.error.HTTPError as e:  # not ready (still catching up): same body
            return json.loads(e.read())["next_index"]
        except OSError:
            return None

    def exited(self):
        """Targets that exited by themselves (they must not), with their output."""
        return {t: p for t, p in self.procs.items() if p.p.poll() is not None}


def alerts_by_flag(am_url):
    with urllib.request.urlopen(am_url + "/api/v2/alerts", timeout=10) as r:
        alerts = json.loads(r.read())
    counts = {}
    for a in alerts:
        fid = a.get("labels", {}).get("flag_id")
        if fid:
            counts[fid] = counts.get(fid, 0) + 1
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--probity", default=os.environ.get("PROBITY_BIN",
                                                       os.path.join(ROOT, "build/services/probity/probity")))
    ap.add_argument("--minutes", type=float, default=20.0, help="how long the feed and the kills run")
    ap.add_argument("--kill-every", type=float, default=0.5, help="mean seconds between kills")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=0.01, help="generator --scale (share of practices)")
    ap.add_argument("--bad-every", type=int, default=500, help="a group of bad inputs every N events")
    ap.add_argument("--big-every", type=int, default=25,
                    help="one group in N also has a message at the 1 MiB value limit (the embedded "
                         "bus keeps only ~5 MB a partition: more would outrun its retention while "
                         "ingest is down, which is input lost upstream, not a Probity fault)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t_start = time.monotonic()

    st = Stack(args.probity, None, args.seed)
    c = st.c
    ok = False
    try:
        feed_path = os.path.join(c.dir, "feed.bin")
        subprocess.run([args.probity, "generate", "--out", feed_path, "--scale", str(args.scale),
                        "--seed", str(args.seed), "--truth", os.path.join(c.dir, "truth.jsonl")],
                       check=True, stdout=subprocess.DEVNULL)
        feed = read_feed(feed_path)
        print("soak: %d generated events; running %.1f min with a kill every ~%.2f s"
              % (len(feed), args.minutes, args.kill_every), flush=True)

        c.start_bus()
        c.keygen()
        st.start_alertmanager()
        for t in ("ingest", "rules", "alerts", "replica"):
            st.start(t)
        c.wait_ingest_ready()

        # What is sent: valid event ids and bad inputs (keyed by a unique Kafka key).
        valid, bad = {}, {}
        for topic, key, env in feed:
            valid[e2e.pb_decode(env)[1][0].decode()] = env
        rate = max(50.0, len(feed) / (args.minutes * 60.0 * 0.8))  # the feed ends at ~80% of the run
        done = threading.Event()
        errors = []

        def produce():
            try:
                p = e2e.producer(c.bootstrap, **{"message.max.bytes": 4000000})
                t0 = time.monotonic()
                for i, (topic, key, env) in enumerate(feed):
                    p.produce(topic, value=env, key=key)
                    if i % args.bad_every == 0:
                        group = bad_inputs(rng, (i // args.bad_every) % args.big_every == 0)
                        for j, (bt, bk, bv, bh, reason) in enumerate(group):
                            k = b"soak-%d-%d|" % (i, j) + bk
                            if len(bk) >= KEY_HEADER_LIMIT - 1:  # a key at the limit stays at it
                                k = b"soak-%d-%d|" % (i, j)
                                k += b"k" * (len(bk) - len(k))
                            p.produce(bt, value=bv, key=k, headers=bh)
                            if reason is None:
                                valid[e2e.pb_decode(bv)[1][0].decode() if not bh else
                                      json.loads(bv)["event_id"]] = bv
                            else:
                                bad[k] = reason
                        p.poll(0)
                    wait = t0 + i / rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                e2e.flush_all(p, 120)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
            finally:
                done.set()

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()

        kills = {"ingest": 0, "rules": 0, "alerts": 0, "replica": 0}
        weights = [("ingest", 0.25), ("rules", 0.25), ("alerts", 0.25), ("replica", 0.25)]
        deadline = time.monotonic() + args.minutes * 60.0
        crashed = []
        last_report = time.monotonic()
        while time.monotonic() < deadline or not done.is_set():
            time.sleep(rng.expovariate(1.0 / args.kill_every))
            for t, p in st.exited().items():
                crashed.append((t, p.p.returncode, p.output()[-2000:]))
                st.start(t)
            r, acc = rng.random(), 0.0
            for t, w in weights:
                acc += w
                if r <= acc:
                    break
            st.kill(t)
            kills[t] += 1
            time.sleep(rng.random() * 0.2)
            st.start(t)
            if time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                print("soak: %.0f s, kills %s" % (time.monotonic() - t_start, kills), flush=True)
        producer.join()
        if errors:
            raise errors[0]
        for t, p in st.exited().items():
            crashed.append((t, p.p.returncode, p.output()[-2000:]))
            st.start(t)
        c.wait_ingest_ready()

        # Settle: ingest has everything and published it; rules and alerts followed to the end.
        def quiet():
            h = c.health()
            return (h["consumer_lag"] == 0 and h["log_published"] == h["log_size"]
                    and h["dead_letters_published"] == h["dead_letters"], h)
        stable, last, h = 0, None, None
        settle_deadline = time.monotonic() + 600
        while time.monotonic() < settle_deadline and stable < 10:
            for t, p in st.exited().items():
                crashed.append((t, p.p.returncode, p.output()[-2000:]))
                if t == "ingest":
                    raise AssertionError("ingest exited while settling:\n" + p.output()[-2000:])
                st.start(t)
            try:
                q, h = quiet()
            except OSError:
                q = False
            cur = h["log_size"] if h else None
            # Rules, alerts and the replica have followed the log to its end too (a flag they raise
            # grows it; the replica copies what the latest checkpoint covers).
            q = q and all(st.follower_next(t) == cur for t in ("rules", "alerts", "replica"))
            stable = stable + 1 if q and cur == last else 0
            last = cur
            time.sleep(1)
        flags_alerted = alerts_by_flag(st.am_url)

        entries = c.log_entries()
        by_event = {}
        flags = {}
        for e in entries:
            rec = e["record"]
            if rec.get("kind") == "EVENT_KIND_FLAG":
                fid = e.get("event", {}).get("flag", {}).get("flag_id")
                flags[fid] = flags.get(fid, 0) + 1
            by_event.setdefault(rec["event_id"], []).append(e)
        stored_bad = c.store_dead_letters()
        dl_by_key = {}
        for d in stored_bad:
            k = e2e.base64.b64decode(d.get("original_key", ""))
            dl_by_key.setdefault(k, []).append(d["reason_code"])

        kinds = {}
        unexpected = []  # entries that are neither a sent input, nor a flag, its baseline or a rule set
        for e in entries:
            rec = e["record"]
            kinds[rec.get("kind")] = kinds.get(rec.get("kind"), 0) + 1
            if rec["event_id"] not in valid and rec.get("kind") not in (
                    "EVENT_KIND_FLAG", "EVENT_KIND_BASELINE", "EVENT_KIND_RULE_SET"):
                unexpected.append((e["index"], rec.get("kind"), rec["event_id"]))
        missing = [i for i in valid if len(by_event.get(i, [])) == 0]
        repeated = [i for i in valid if len(by_event.get(i, [])) > 1]
        bad_wrong = [k[:40] for k, r in bad.items() if dl_by_key.get(k) != [r]]
        flags_twice = [f for f, n in flags.items() if n != 1]
        alerts_wrong = [(f, flags_alerted.get(f, 0)) for f in flags if flags_alerted.get(f, 0) != 1]
        alerts_extra = [f for f in flags_alerted if f not in flags]
        log_msgs = e2e.read_topic(c.bootstrap, "probity.log.v1", 1, 30)
        idx = sorted({int.from_bytes(m.key(), "big") for m in log_msgs})
        topic_gap = bool(idx) and idx != list(range(idx[0], idx[-1] + 1))
        verify = c.cli("log", "verify", "--json", check=False)
        verified = verify.returncode == 0 and b'"ok":true' in verify.stdout
        h = c.health()
        # The replica, stopped cleanly, against ingest's store (quiet: nothing is written now).
        replica_rc = st.procs["replica"].terminate(30)
        compare = subprocess.run([args.probity, "replica", "compare", "--primary",
                                  os.path.join(c.data_dir, "log"), "--replica",
                                  os.path.join(c.dir, "replica", "log"), "--latest-checkpoint-only"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        replica_verify = subprocess.run(
            [args.probity, "log", "verify", "--json", "--data-dir", os.path.join(c.dir, "replica"),
             "--log-key", c.key[:-len(".key")] + ".pub"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        replica_equal = compare.returncode == 0
        replica_verified = replica_verify.returncode == 0 and b'"ok":true' in replica_verify.stdout

        report = {
            "seed": args.seed, "minutes": args.minutes, "wall_seconds": round(time.monotonic() - t_start),
            "generated_events": len(feed), "valid_inputs": len(valid), "bad_inputs": len(bad),
            "log_size": int(h["log_size"]), "dead_letters": int(h["dead_letters"]),
            "kills": kills, "kills_total": sum(kills.values()),
            "restarts": st.runs, "unexpected_exits": [(t, rc) for t, rc, _ in crashed],
            "missing_events": len(missing), "repeated_events": len(repeated),
            "bad_inputs_not_dead_lettered_once_with_reason": len(bad_wrong),
            "entries_by_kind": kinds, "unexpected_entries": len(unexpected),
            "rule_set_entries": kinds.get("EVENT_KIND_RULE_SET", 0),
            "flags": len(flags), "flags_logged_more_than_once": len(flags_twice),
            "flags_without_exactly_one_alert": len(alerts_wrong), "alerts_without_a_flag": len(alerts_extra),
            "log_published_equals_log_size": h["log_published"] == h["log_size"],
            "dead_letters_published_equals_dead_letters": h["dead_letters_published"] == h["dead_letters"],
            "log_topic_indexes_held": len(idx), "log_topic_gap": topic_gap,
            "log_verify_ok": verified,
            "replica_stopped_cleanly": replica_rc == 0,
            "replica_equals_primary": replica_equal,
            "replica_compare": compare.stdout.decode(errors="replace").strip().splitlines()[-1:],
            "replica_log_verify_ok": replica_verified,
            "replica_rollbacks": len(st.replica_rollbacks),
        }
        ok = (not missing and not repeated and not unexpected and report["rule_set_entries"] == 1
              and not bad_wrong and not flags_twice and not alerts_wrong
              and not alerts_extra and not topic_gap and verified and not crashed
              and replica_equal and replica_verified and replica_rc == 0
              and not st.replica_rollbacks
              and report["log_published_equals_log_size"]
              and report["dead_letters_published_equals_dead_letters"])
        report["ok"] = ok
        print(json.dumps(report, indent=1), flush=True)
        for t, rc, out in crashed[:3]:
            sys.stderr.write("%s exited %s by itself:\n%s\n" % (t, rc, out))
        if not replica_equal or not replica_verified:
            sys.stderr.write("replica compare:\n%s\nreplica log verify:\n%s\n"
                             % (compare.stdout.decode(errors="replace")[-3000:],
                                replica_verify.stdout.decode(errors="replace")[-3000:]))
        if missing[:5] or repeated[:5] or bad_wrong[:5] or alerts_wrong[:5] or unexpected[:5]:
            sys.stderr.write("examples: missing %s repeated %s bad %s alerts %s unexpected %s\n"
                             % (missing[:5], repeated[:5], bad_wrong[:5], alerts_wrong[:5],
                                unexpected[:5]))
    finally:
        for t in list(st.procs):
            try:
                st.kill(t)
            except Exception:  # noqa: BLE001
                pass
        if hasattr(st, "am"):
            st.am.kill()
        c.close(keep=args.keep or not ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
