#!/usr/bin/env python3
"""End to end with outside clients: `probity bus` and `probity ingest` run as processes; messages
are produced with confluent_kafka (librdkafka through Python) and kcat, in both encodings; the
test then reads what Probity wrote with the same clients and with the `probity log` CLI.

  PROBITY_BIN=build/services/probity/probity python3 ingest_e2e_test.py [TestCase[.test]]

What it proves (DESIGN.md invariants 1 and 5, docs/events.md): every message produced ends either
in the log exactly once, with the exact bytes, encoding, topic and key received, or on
probity.deadletter.v1 with the documented reason code, its original bytes, key, headers and source
coordinates; exact redeliveries are dropped, conflicting resubmissions are logged and marked;
probity.log.v1 carries indexes 0..N-1 with leaf hashes that match the records; a signed checkpoint
covers the final tree; `probity log verify` passes; ingest stops cleanly on SIGTERM.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probity_e2e as e2e  # noqa: E402

PROBITY = os.environ.get("PROBITY_BIN", "")
KCAT = os.environ.get("KCAT_BIN", "kcat")


class IngestEndToEnd(unittest.TestCase):
    def setUp(self):
        self.assertTrue(os.access(PROBITY, os.X_OK), "set PROBITY_BIN to the probity binary")

    def test_both_encodings_valid_and_invalid_messages_from_confluent_kafka(self):
        with e2e.Cluster(PROBITY, "e2e", seed=11) as c:
            c.start_bus()
            c.keygen()
            c.start_ingest()
            c.wait_ingest_ready()
            p = e2e.producer(c.bootstrap)

            sent = {}  # event id -> (topic, value bytes, content type in the log)

            def valid(event_id, topic, value, json_encoded, partition=0, headers=None):
                hdrs = headers if headers is not None else (e2e.JSON_HEADERS if json_encoded else [])
                p.produce(topic, value=value, key=event_id.encode(), partition=partition, headers=hdrs)
                sent[event_id] = (topic, value, "CONTENT_TYPE_JSON" if json_encoded else "CONTENT_TYPE_PROTOBUF")

            t, b, _ = e2e.claim("v-claim-bin", pence=1234)
            valid("v-claim-bin", t, b, False, partition=0)
            t, b, _ = e2e.claim("v-claim-pbhdr", pence=99)
            valid("v-claim-pbhdr", t, b, False, partition=1, headers=e2e.PROTOBUF_HEADERS)
            t, _, j = e2e.claim("v-claim-json", practice="B82005", pence=2500)
            valid("v-claim-json", t, j, True, partition=2)
            t, b, _ = e2e.referral("v-ref-bin")
            valid("v-ref-bin", t, b, False, partition=1)
            t, _, j = e2e.referral("v-ref-json", ubrn="999988887777")
            valid("v-ref-json", t, j, True, partition=3)
            t, b, _ = e2e.contact("v-contact-bin")
            valid("v-contact-bin", t, b, False, partition=2)
            t, _, j = e2e.contact("v-contact-json")
            valid("v-contact-json", t, j, True, partition=0)
            p.flush(10)
            # An exact redelivery (same bytes, another partition): dropped. A conflicting
            # resubmission (same event id, other bytes, other encoding): logged and marked.
            _, b, _ = e2e.claim("v-claim-bin", pence=1234)
            p.produce("probity.claims.v1", value=b, key=b"v-claim-bin", partition=3)
            _, conflict, _ = e2e.claim("v-claim-json", practice="B82005", pence=2600)
            p.produce("probity.claims.v1", value=conflict, key=b"v-claim-json", partition=2)

            bad = {}  # key -> (reason, topic, value, headers)

            def invalid(key, reason, topic, value, headers=()):
                p.produce(topic, value=value, key=key.encode(), headers=list(headers))
                bad[key] = (reason, topic, value, list(headers))

            invalid("bad-1", "MALFORMED_PROTOBUF", "probity.claims.v1", b"\x08\xff\xff\xff garbage")
            invalid("bad-2", "MALFORMED_JSON", "probity.claims.v1", b'{"event_id": ', e2e.JSON_HEADERS)
            invalid("bad-3", "MALFORMED_JSON", "probity.claims.v1",
                    b'{"event_id":"x1","event_id":"x2"}', e2e.JSON_HEADERS)
            _, _, j = e2e.claim("b-unknown-json")
            invalid("bad-4", "UNKNOWN_FIELD", "probity.claims.v1",
                    j[:-1] + b',"colour":"red"}', e2e.JSON_HEADERS)
            _, b, _ = e2e.claim("b-unknown-bin")
            invalid("bad-5", "UNKNOWN_FIELD", "probity.claims.v1", b + e2e.pb_varint(99, 7))
            _, b, _ = e2e.claim("b-ods", practice="81001")
            invalid("bad-6", "INVALID_ODS_CODE", "probity.claims.v1", b,
                    [("trace", b"abc"), ("x-bin", b"\x00\x01\xff")])
            _, b, _ = e2e.claim("b-topic")
            invalid("bad-7", "WRONG_TOPIC", "probity.referrals.v1", b)
            _, b, _ = e2e.claim("b-ct")
            invalid("bad-8", "UNSUPPORTED_CONTENT_TYPE", "probity.claims.v1", b,
                    [("content-type", b"text/csv")])
            invalid("bad-9", "EMPTY_MESSAGE", "probity.visits.v1", b"")
            _, _, j = e2e.claim("b-amount", pence=100, amount=500)
            invalid("bad-10", "AMOUNT_MISMATCH", "probity.claims.v1", j, e2e.JSON_HEADERS)
            _, b, _ = e2e.claim("b-future", occurred=4102444800)  # 2100-01-01
            invalid("bad-11", "TIMESTAMP_IN_FUTURE", "probity.claims.v1", b)
            _, _, j = e2e.referral("b-ubrn", ubrn="12345")
            invalid("bad-12", "INVALID_UBRN", "probity.referrals.v1", j, e2e.JSON_HEADERS)
            _, b, _ = e2e.contact("b-empty-json")
            invalid("bad-13", "EMPTY_MESSAGE", "probity.visits.v1", b"{}", e2e.JSON_HEADERS)
            e2e.flush_all(p)
            del p

            n_log = len(sent) + 1  # plus the conflicting resubmission
            c.wait_health(lambda h: h["log_size"] >= n_log and h["dead_letters"] >= len(bad)
                          and h["consumer_lag"] == 0 and h["log_published"] >= n_log,
                          60, "%d entries and %d dead letters" % (n_log, len(bad)))
            rc = c.ingest.terminate(30)
            self.assertEqual(rc, 0, c.ingest.output())
            self.assertIn("drained; log has %d entries, %d dead letters" % (n_log, len(bad)),
                          c.ingest.output())

            # The log: each valid event once, exact bytes and coordinates; the conflict marked.
            entries = c.log_entries()
            self.assertEqual([e["index"] for e in entries], list(range(n_log)))
            by_id = {}
            for e in entries:
                by_id.setdefault(e["record"]["event_id"], []).append(e)
            self.assertEqual(set(by_id), set(sent))
            for event_id, (topic, value, ct) in sent.items():
                first = by_id[event_id][0]["record"]
                self.assertEqual(first["payload"], e2e.b64(value), event_id)
                self.assertEqual(first["content_type"], ct, event_id)
                self.assertEqual(first["topic"], topic, event_id)
                self.assertEqual(first["message_key"], e2e.b64(event_id.encode()), event_id)
                self.assertNotIn("conflicting_resubmission", first)
                self.assertEqual(by_id[event_id][0]["event"]["event_id"], event_id)
                want = 2 if event_id == "v-claim-json" else 1
                self.assertEqual(len(by_id[event_id]), want, event_id)
            marked = by_id["v-claim-json"][1]["record"]
            self.assertTrue(marked["conflicting_resubmission"])
            self.assertEqual(marked["payload"], e2e.b64(conflict))
            self.assertEqual(int(marked.get("first_index_of_event_id", 0)),
                             by_id["v-claim-json"][0]["index"])

            # probity.deadletter.v1, read with confluent_kafka: one per bad message, in full.
            dls = e2e.read_topic(c.bootstrap, "probity.deadletter.v1", len(bad), 30)
            self.assertEqual(len(dls), len(bad))
            seqs = set()
            for m in dls:
                d = e2e.parse_dead_letter(m.value())
                key = d["original_key"].decode()
                self.assertIn(key, bad)
                reason, topic, value, headers = bad[key]
                self.assertEqual(d["reason_code"], reason, "%s: %s" % (key, d["message"]))
                self.assertTrue(d["message"], key)
                self.assertEqual(d["original_value"], value, key)
                self.assertEqual(d["source_topic"], topic, key)
                self.assertEqual(d["headers"], [(k.encode(), v) for k, v in headers], key)
                self.assertEqual(m.key(), key.encode())
                hdrs = dict(m.headers() or [])
                seqs.add(int(hdrs["probity-deadletter-seq"]))
            self.assertEqual(seqs, set(range(len(bad))))

            # The same dead letters in the store, through the CLI.
            stored = c.store_dead_letters()
            self.assertEqual(sorted((e2e.b64(k.encode()), r) for k, (r, *_) in bad.items()),
                             sorted((d.get("original_key", ""), d["reason_code"]) for d in stored))

            # probity.log.v1: indexes 0..N-1, 8-byte big-endian keys, hashes matching records.
            log_msgs = e2e.read_topic(c.bootstrap, "probity.log.v1", n_log, 30)
            self.assertEqual(len(log_msgs), n_log)
            for i, m in enumerate(log_msgs):
                self.assertEqual(m.key(), i.to_bytes(8, "big"))
                se = e2e.pb_decode(m.value())
                self.assertEqual(se.get(1, [0])[0], i)
                record = se[3][0]
                self.assertEqual(se[2][0], hashlib.sha256(b"\x00" + record).digest())
                self.assertEqual(e2e.pb_decode(record)[7][0].decode(), entries[i]["record"]["event_id"])
                self.assertEqual(se[2][0].hex(), entries[i]["leaf_hash"])

            # A signed checkpoint of the final tree, stored and published.
            cps = e2e.read_topic(c.bootstrap, "probity.checkpoints.v1", 1, 30)
            self.assertGreaterEqual(len(cps), 1)
            self.assertEqual(e2e.pb_decode(cps[-1].value())[1][0], n_log)
            note = c.cli("log", "checkpoint").stdout.decode()
            self.assertTrue(note.startswith("probity.test/log\n%d\n" % n_log), note)
            self.assertIn("\u2014 probity.test/log ", note)
            v = c.cli("log", "verify", "--json").stdout.decode()
            self.assertIn('"ok":true,"entries":%d' % n_log, v)

            # The practice and kind indexes, through `probity log list`.
            def listed(*args):
                out = c.cli("log", "list", "--json", *args).stdout.decode()
                return [json.loads(line)["index"] for line in out.splitlines() if line.strip()]
            practices = {e["record"].get("practice_code") for e in entries} - {None}
            self.assertGreaterEqual(len(practices), 2)
            for practice in practices:
                mine = [e for e in entries if e["record"].get("practice_code") == practice]
                mine.sort(key=lambda e: (e["record"]["occurred_at"], e["index"]))
                self.assertEqual(listed("--practice", practice), [e["index"] for e in mine], practice)
            claims = [e["index"] for e in entries if e["record"]["kind"] == "EVENT_KIND_CLAIM"]
            self.assertTrue(claims)
            self.assertEqual(listed("--kind", "claim"), claims)
            self.assertEqual(listed("--kind", "claim", "--from", str(claims[-1])), claims[-1:])
            self.assertEqual(listed("--kind", "CLAIM", "--limit", "1"), claims[:1])
            self.assertEqual(listed("--practice", "A81001", "--occurred-from", "2099-01-01"), [])
            bad = c.cli("log", "list", "--kind", "nope", check=False)
            self.assertEqual(bad.returncode, 1)
            self.assertIn(b"unknown kind 'nope'", bad.stderr)
            bad = c.cli("log", "list", "--practice", "A81001", "--occurred-to", "2023-02-30",
                        check=False)
            self.assertEqual(bad.returncode, 1)
            self.assertIn(b"is not a date", bad.stderr)

    def test_kcat_lists_topics_and_produces_a_json_claim_into_the_log(self):
        with e2e.Cluster(PROBITY, "kcat", seed=12) as c:
            c.start_bus()
            md = subprocess.run([KCAT, "-b", c.bootstrap, "-L"], stdout=subprocess.PIPE, timeout=30,
                                check=True).stdout.decode()
            topics = {m.group(1): int(m.group(2))
                      for m in re.finditer(r'topic "([^"]+)" with (\d+) partitions', md)}
            self.assertEqual(topics, {**e2e.INPUT_TOPICS, **e2e.OUTPUT_TOPICS}, md)

            c.keygen()
            c.start_ingest()
            c.wait_ingest_ready()
            _, _, claim = e2e.claim("kcat-claim-1", practice="A81001", pence=4321)
            subprocess.run([KCAT, "-b", c.bootstrap, "-P", "-t", "probity.claims.v1", "-p", "2",
                            "-k", "A81001", "-H", "content-type=application/json"],
                           input=claim + b"\n", check=True, timeout=30)
            subprocess.run([KCAT, "-b", c.bootstrap, "-P", "-t", "probity.claims.v1", "-k", "bad",
                            "-H", "content-type=application/json"],
                           input=b'{"event_id":"kcat-bad","kind":"EVENT_KIND_NOPE"}\n', check=True,
                           timeout=30)
            c.wait_health(lambda h: h["log_size"] >= 1 and h["dead_letters"] >= 1
                          and h["log_published"] >= 1, 60, "the kcat claim and the bad message")

            # What kcat sees on the output topics.
            out = subprocess.run([KCAT, "-b", c.bootstrap, "-C", "-t", "probity.log.v1", "-o",
                                  "beginning", "-e", "-q", "-f", "%o %S\n"],
                                 stdout=subprocess.PIPE, check=True, timeout=30).stdout.decode()
            self.assertEqual(len(out.splitlines()), 1, out)
            self.assertTrue(out.startswith("0 "), out)
            dl = subprocess.run([KCAT, "-b", c.bootstrap, "-C", "-t", "probity.deadletter.v1", "-o",
                                 "beginning", "-e", "-q", "-f", "%k|%h|%s\n"],
                                stdout=subprocess.PIPE, check=True, timeout=30).stdout
            self.assertTrue(dl.startswith(b"bad|probity-deadletter-seq=0|"), dl)
            self.assertIn(b"UNKNOWN_ENUM_VALUE", dl)
            self.assertIn(b"EVENT_KIND_NOPE", dl)

            self.assertEqual(c.ingest.terminate(30), 0, c.ingest.output())
            got = c.cli("log", "get", "--event-id", "kcat-claim-1").stdout.decode()
            e = json.loads(got.splitlines()[0])
            self.assertEqual(e["index"], 0)
            self.assertEqual(e["record"]["payload"], e2e.b64(claim))  # kcat strips the newline
            self.assertEqual(e["record"]["partition"], 2)
            self.assertEqual(e["record"]["message_key"], e2e.b64(b"A81001"))
            self.assertEqual(e["event"]["claim"]["amount_pence"], "4321")
            self.assertIn('"ok":true,"entries":1', c.cli("log", "verify", "--json").stdout.decode())


if __name__ == "__main__":
    unittest.main(verbosity=2)
