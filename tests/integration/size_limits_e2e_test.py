#!/usr/bin/env python3
"""Size limits end to end (docs/events.md, "Size budget"): `probity bus` and `probity ingest` as
processes, messages at each boundary produced by real clients (confluent_kafka, kcat).

For each limit (the 1,048,576-byte value, the 16,384 bytes of key and headers) it sends messages
of limit - 1, limit and limit + 1 bytes, in both encodings, valid and invalid, restarts ingest
after each group, and checks that every message is in the log exactly once or dead-lettered with
its reason; that nothing ingest publishes is over the record limit (a MESSAGE_TOO_LARGE dead letter
is published as a reference, and `probity log deadletters --raw N` gives back the original bytes);
that ingest never exits and /healthz is ready once the work is done; and that `log verify` passes.
It also replays the report that opened issue 10: the docs' example claim padded with spaces to
999,900 bytes, sent with a default `kcat -P -H content-type=application/json`.

  PROBITY_BIN=build/services/probity/probity KCAT_BIN=kcat python3 size_limits_e2e_test.py
"""

import hashlib
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probity_e2e as e2e  # noqa: E402

e2e.PORT_RANGE = (41000, 41999)  # this suite's ports

PROBITY = os.environ.get("PROBITY_BIN", "")
KCAT = os.environ.get("KCAT_BIN", "kcat")
VALUE_LIMIT = 1048576
KEY_HEADER_LIMIT = 16384
RECORD_LIMIT = 1114112
JSON = [("content-type", b"application/json")]


def padded_json(event_id, size):
    """A valid JSON claim of exactly `size` bytes (whitespace before the closing brace)."""
    _, _, j = e2e.claim(event_id)
    pad = size - len(j)
    assert pad >= 0
    return j[:-1] + b" " * pad + b"}"


def padded_binary(event_id, size):
    """A valid binary claim of exactly `size` bytes: the envelope's source_system (field 7) given
    again and again (protobuf keeps the last one, "e2e"), with one filler of the right length."""
    _, b, _ = e2e.claim(event_id)
    unit = e2e.pb_bytes(7, "e2e")
    out = bytearray(b)
    # Leave room for one filler (2-byte header plus 1..100 bytes) and the final unit.
    while len(out) + len(unit) + 2 + 100 + len(unit) < size:
        out += unit
    filler = size - len(out) - len(unit) - 2
    assert 1 <= filler <= 127, filler
    out += e2e.pb_bytes(7, "s" * filler) + unit
    assert len(out) == size, (len(out), size)
    return bytes(out)


class SizeLimitsEndToEnd(unittest.TestCase):
    def setUp(self):
        self.assertTrue(os.access(PROBITY, os.X_OK), "set PROBITY_BIN to the probity binary")

    def test_every_boundary_in_both_encodings_with_a_restart_after_each(self):
        with e2e.Cluster(PROBITY, "sizes", seed=21) as c:
            c.start_bus()
            c.keygen()
            c.start_ingest()
            c.wait_ingest_ready()
            # A client that can send more than librdkafka's default 1,000,000 bytes.
            p = e2e.producer(c.bootstrap, **{"message.max.bytes": 4000000})
            expect_log = {}   # event id -> value
            expect_dead = []  # (key, reason, value)

            def settle(what):
                c.wait_health(lambda h: h["log_size"] >= len(expect_log)
                              and h["dead_letters"] >= len(expect_dead)
                              and h["log_published"] == h["log_size"]
                              and h["dead_letters_published"] == h["dead_letters"]
                              and h["consumer_lag"] == 0, 90, what)

            def restart(what):
                rc = c.ingest.terminate(60)
                self.assertEqual(rc, 0, "ingest stopped badly after %s:\n%s"
                                 % (what, c.ingest.output()[-3000:]))
                c.start_ingest()
                c.wait_ingest_ready()
                h = c.wait_health(lambda h: h["ready"] and h["consumer_lag"] == 0, 60,
                                  "ready after a restart (%s)" % what)
                self.assertEqual(h["log_size"], len(expect_log), what)
                self.assertEqual(h["dead_letters"], len(expect_dead), what)

            groups = []
            for n in (VALUE_LIMIT - 1, VALUE_LIMIT, VALUE_LIMIT + 1):
                ok = n <= VALUE_LIMIT
                groups.append(("json valid %d" % n, [
                    ("jv-%d" % n, padded_json("jv-%d" % n, n), JSON,
                     None if ok else "MESSAGE_TOO_LARGE")]))
                groups.append(("json invalid %d" % n, [
                    ("ji-%d" % n, b'{"event_id": ' + b" " * (n - 13), JSON,
                     "MALFORMED_JSON" if ok else "MESSAGE_TOO_LARGE")]))
                groups.append(("binary valid %d" % n, [
                    ("bv-%d" % n, padded_binary("bv-%d" % n, n), [],
                     None if ok else "MESSAGE_TOO_LARGE")]))
                groups.append(("binary invalid %d" % n, [
                    ("bi-%d" % n, b"\xff" * n, [],
                     "MALFORMED_PROTOBUF" if ok else "MESSAGE_TOO_LARGE")]))
            for n in (KEY_HEADER_LIMIT - 1, KEY_HEADER_LIMIT, KEY_HEADER_LIMIT + 1):
                ok = n <= KEY_HEADER_LIMIT
                # Key plus headers of n bytes: a 1,000-byte header and the rest in the key.
                groups.append(("key and headers %d" % n, [
                    ("kh-%d" % n, e2e.claim("kh-%d" % n)[1],
                     [("trace", b"t" * (1000 - len("trace")))],
                     None if ok else "MESSAGE_TOO_LARGE")]))

            for what, msgs in groups:
                for event_id, value, headers, reason in msgs:
                    key = event_id.encode()
                    if what.startswith("key and headers"):
                        n = int(what.split()[-1])
                        key = (event_id + "|").encode()
                        key += b"k" * (n - 1000 - len(key))
                        self.assertEqual(len(key) + 1000, n)
                    p.produce("probity.claims.v1", value=value, key=key, headers=headers)
                    if reason is None:
                        expect_log[event_id] = value
                    else:
                        expect_dead.append((key, reason, value))
                e2e.flush_all(p)
                settle(what)
                restart(what)

            # The report that opened issue 10: the docs' example claim padded with spaces to
            # 999,900 bytes, with a default kcat (librdkafka's default 1,000,000-byte limit).
            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common",
                                   "codec", "testdata", "example_claim.json"), "rb") as f:
                example = json.dumps(json.load(f), separators=(",", ":")).encode()
            for tag, body in (("example", example[:-1] + b" " * (999900 - len(example)) + b"}"),):
                self.assertEqual(len(body), 999900)
                # A file argument is one message for kcat (its standard input is read in
                # lines through a buffer that refuses lines near 1 MB).
                path = os.path.join(c.dir, tag + ".json")
                with open(path, "wb") as f:
                    f.write(body)
                r = subprocess.run([KCAT, "-b", c.bootstrap, "-P", "-t", "probity.claims.v1",
                                    "-H", "content-type=application/json", "-k", tag, path],
                                   capture_output=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                expect_log[json.loads(body)["event_id"]] = body
            settle("kcat example claim")
            restart("kcat example claim")

            # The store: each valid message once, with its exact bytes; each bad one dead-lettered.
            entries = c.log_entries()
            by_id = {}
            for e in entries:
                by_id.setdefault(e["record"]["event_id"], []).append(e)
            for event_id, value in expect_log.items():
                self.assertEqual(len(by_id.get(event_id, [])), 1, event_id)
                self.assertEqual(by_id[event_id][0]["record"]["payload"], e2e.b64(value), event_id)
            stored = c.store_dead_letters()
            self.assertEqual(len(stored), len(expect_dead))
            for i, (key, reason, value) in enumerate(expect_dead):
                self.assertEqual(stored[i]["reason_code"], reason, key[:40])
                self.assertEqual(stored[i]["original_value"], e2e.b64(value), key[:40])
                # --raw gives back the original exactly.
                out = os.path.join(c.dir, "raw-%d" % i)
                c.cli("log", "deadletters", "--raw", str(i), "--out", out)
                with open(out, "rb") as f:
                    raw = f.read()
                self.assertEqual(hashlib.sha256(raw).digest(), hashlib.sha256(value).digest())

            # The bus: nothing over the record limit; MESSAGE_TOO_LARGE published as a reference.
            # (The embedded bus keeps about 5 MB a partition, so only the latest are still there.)
            dls = e2e.read_topic(c.bootstrap, "probity.deadletter.v1", 1, 30)
            self.assertTrue(dls)
            for m in dls:
                self.assertLessEqual(len(m.value()), RECORD_LIMIT)
                f = e2e.pb_decode(m.value())
                seq = f.get(13, [0])[0]
                key, reason, value = expect_dead[seq]
                self.assertEqual(f[7][0].decode(), reason)
                self.assertEqual(f[11][0], hashlib.sha256(value).digest())
                if reason == "MESSAGE_TOO_LARGE":
                    self.assertEqual(f.get(12, [0])[0], 1)
                    self.assertNotIn(2, f)
                else:
                    self.assertEqual(f[2][0], value)
            for m in e2e.read_topic(c.bootstrap, "probity.log.v1", 1, 30):
                self.assertLessEqual(len(m.value()), RECORD_LIMIT)

            v = c.cli("log", "verify", "--json").stdout.decode()
            self.assertIn('"ok":true', v)
            self.assertEqual(c.ingest.terminate(60), 0, c.ingest.output()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
