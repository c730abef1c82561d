#!/usr/bin/env python3
"""The api as a process, end to end: `probity bus`, `probity ingest` and `probity api` run as
separate processes on loopback (ports 44500-44999); events and a flag go in through the bus; a
decision is posted through the api while ingest is paused (SIGSTOP), the api is SIGKILLed while
the request waits, restarted, and the client retries with its Idempotency-Key.

  PROBITY_BIN=build/services/probity/probity python3 api_e2e_test.py

What it proves (docs/api.md): the decision ends in the log exactly once and changes the flag's
status; reads are recorded in the log (who looked at A81001's data); the api reopens the store
and sees entries ingest appended after it started; tokens appear in no log; and every response
validates against docs/openapi.yaml (tools/openapi/validate.mjs).
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probity_e2e as e2e  # noqa: E402

e2e.PORT_RANGE = (44500, 44999)  # the api's ports

PROBITY = os.environ.get("PROBITY_BIN", "")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLAG_ID = "ab" * 32
TOKENS = {"cm": "e2e-commissioner-secret", "pr": "e2e-practice-secret", "aud": "e2e-auditor-secret"}


def envelope_json(event_id, kind, practice, payload_field, payload, occurred="2023-04-10T09:00:00Z"):
    return json.dumps({
        "event_id": event_id, "kind": kind, "schema_version": 1, "practice_code": practice,
        "occurred_at": occurred, "source_system": "e2e", payload_field: payload,
    }).encode()


class ApiEndToEnd(unittest.TestCase):
    def setUp(self):
        self.assertTrue(os.access(PROBITY, os.X_OK), "set PROBITY_BIN to the probity binary")
        self.responses = None
        self.kept = 0

    def call(self, method, path, who, body=None, headers=None, timeout=30):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.api_port, path), method=method,
                                     data=body.encode() if body is not None else None)
        req.add_header("Authorization", "Bearer " + TOKENS[who])
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, ctype, data = r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            status, ctype, data = e.code, e.headers.get("Content-Type", ""), e.read()
        base = os.path.join(self.responses, str(self.kept))
        self.kept += 1
        with open(base + ".meta", "w") as f:
            f.write("%s\n%s\n%d\n%s\n" % (method, path.split("?")[0], status, ctype))
        with open(base + ".body", "wb") as f:
            f.write(data)
        return status, json.loads(data) if data else None

    def start_api(self, c, run):
        log = os.path.join(c.dir, "api.%d.log" % run)
        self.api = e2e.Proc([PROBITY, "api", "--log-dir", os.path.join(c.data_dir, "log"),
                             "--access", self.access_file, "--bootstrap-servers", c.bootstrap,
                             "--api-port", str(self.api_port),
                             "--api-state-dir", os.path.join(c.dir, "api-state"),
                             "--bundle-policy", self.policy_file], log)
        self.assertIsNotNone(self.api.wait_output(r"probity api: serving", 30), self.api.output())

    def wait_for(self, pred, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = pred()
            if got:
                return got
            time.sleep(0.1)
        self.fail("timed out waiting for " + what)

    def test_decision_survives_a_killed_api_and_reads_are_recorded(self):
        with e2e.Cluster(PROBITY, "api_e2e", seed=44) as c:
            self.responses = os.path.join(c.dir, "responses")
            os.makedirs(self.responses)
            c.start_bus()
            c.keygen()
            c.start_ingest()
            c.wait_ingest_ready()
            self.access_file = os.path.join(c.dir, "access.json")
            self.policy_file = os.path.join(c.dir, "policy.json")
            with open(c.key[:-len(".key")] + ".pub") as f:
                vkey = f.read().strip()
            with open(self.policy_file, "w") as f:
                json.dump({"log_origin": "probity.test/log", "log_vkey": vkey}, f)

            def principal(name, role, token, **extra):
                return dict(name=name, role=role,
                            token_sha256_hex=hashlib.sha256(token.encode()).hexdigest(), **extra)
            with open(self.access_file, "w") as f:
                json.dump({"principals": [
                    principal("qhm-contracts", "API_ROLE_COMMISSIONER", TOKENS["cm"],
                              icb_codes=["QHM"], may_decide=True),
                    principal("A81001", "API_ROLE_PRACTICE", TOKENS["pr"], practice_code="A81001"),
                    principal("auditor", "API_ROLE_AUDITOR", TOKENS["aud"]),
                ]}, f)

            p = e2e.producer(c.bootstrap)
            hdr = e2e.JSON_HEADERS
            p.produce("probity.practices.v1", headers=hdr, value=envelope_json(
                "reg-A81001", "EVENT_KIND_PRACTICE_UPDATE", "A81001", "practice_update",
                {"practice_name": "E2E Practice", "list_size": "9000", "icb_code": "QHM"}))
            rules_yaml = ("name: e2e-rules\nversion: \"1\"\nrules:\n  - id: ios-duplicate\n"
                          "    version: 1\n    kind: duplicate_item_of_service\n"
                          "    severity: warning\n    description: The same item claimed twice.\n")
            rules_sha = hashlib.sha256(rules_yaml.encode()).hexdigest()
            p.produce("probity.rulesets.v1", headers=hdr, value=envelope_json(
                "ruleset-" + rules_sha, "EVENT_KIND_RULE_SET", "", "rule_set",
                {"name": "e2e-rules", "version": "1", "sha256_hex": rules_sha,
                 "yaml_content": rules_yaml}))
            for i in range(5):
                t, b, _ = e2e.claim("e2e-claim-%d" % i)
                p.produce(t, value=b, key=("e2e-claim-%d" % i).encode())
            e2e.flush_all(p)
            entries = self.wait_for(lambda: (lambda es: es if len(es) >= 7 else None)(c.log_entries()),
                                    "the claims in the log")
            claim0 = next(e["index"] for e in entries if e["record"]["event_id"] == "e2e-claim-0")
            p.produce("probity.flags.v1", headers=hdr, value=envelope_json(
                FLAG_ID, "EVENT_KIND_FLAG", "A81001", "flag",
                {"flag_id": FLAG_ID, "rule_id": "ios-duplicate", "icb_code": "QHM",
                 "rule_set_hash": rules_sha, "rule_kind": "duplicate_item_of_service",
                 "severity": "SEVERITY_WARNING", "observed": 2, "expected": 1,
                 "evidence": [{"log_index": str(claim0), "event_id": "e2e-claim-0"}],
                 "judged_at_tree_size": str(len(entries)),
                 "summary": "The same item of service claimed twice."}))
            e2e.flush_all(p)

            self.api_port = e2e.free_port(c.rng)
            self.start_api(c, 1)
            # The api reopens the store: the flag, sequenced after it started, becomes visible.
            self.wait_for(lambda: self.call("GET", "/v1/flags", "aud")[1].get("flags"),
                          "the flag through the api")
            status, trail = self.call("GET", "/v1/practices/A81001/trail", "pr")
            self.assertEqual(status, 200, trail)
            self.assertGreaterEqual(len(trail["entries"]), 6)

            # Ingest paused: the decision is confirmed by the bus but not sequenced, so a request
            # with wait= is still waiting when the api is killed.
            os.kill(c.ingest.pid, signal.SIGSTOP)
            body = json.dumps({"outcome": "DECISION_OUTCOME_UPHOLD", "reason": "confirmed"})
            path = "/v1/flags/%s/decisions?wait=20000" % FLAG_ID
            outcome = {}

            def first_attempt():
                try:
                    outcome["first"] = self.call("POST", path, "cm", body,
                                                 {"Idempotency-Key": "e2e-key-1"}, timeout=25)
                except Exception as e:  # the connection dies with the api
                    outcome["first"] = e
            t = threading.Thread(target=first_attempt)
            t.start()
            time.sleep(1.5)
            self.api.kill()  # SIGKILL mid-request
            t.join()
            self.assertIsInstance(outcome["first"], Exception, outcome["first"])
            os.kill(c.ingest.pid, signal.SIGCONT)

            self.start_api(c, 2)
            status, accepted = self.call("POST", path, "cm", body, {"Idempotency-Key": "e2e-key-1"})
            self.assertEqual(status, 202, accepted)
            self.assertTrue(accepted.get("replayed"), accepted)
            self.assertTrue(accepted.get("sequenced"), accepted)
            status, again = self.call("POST", path, "cm", body, {"Idempotency-Key": "e2e-key-1"})
            self.assertEqual((status, again["decision_id"]), (202, accepted["decision_id"]))
            status, other = self.call("POST", path, "cm", body.replace("confirmed", "other"),
                                      {"Idempotency-Key": "e2e-key-1"})
            self.assertEqual(status, 422, other)

            status, hist = self.call("GET", "/v1/flags/%s/decisions" % FLAG_ID, "pr")
            self.assertEqual(hist["status"], "FLAG_STATUS_UPHELD")
            self.assertEqual(len(hist["decisions"]), 1)
            decisions = [e for e in c.log_entries()
                         if e["record"].get("kind") == "EVENT_KIND_FLAG_DECISION"]
            self.assertEqual(len(decisions), 1, decisions)
            status, upheld = self.call("GET", "/v1/flags?status=upheld", "cm")
            self.assertEqual(len(upheld["flags"]), 1)

            # The flag's dispute bundle, through the api (its read recorded too).
            status, bundle = self.call("GET", "/v1/flags/%s/bundle" % FLAG_ID, "pr")
            self.assertEqual(status, 200, bundle)
            self.assertEqual(bundle["format"], "probity.dispute-bundle")
            self.assertEqual(bundle["policy"]["log_vkey"], vkey)

            # Who looked at A81001's data: the reads above, by name, in the log.
            def reads():
                s, log = self.call("GET", "/v1/practices/A81001/access?limit=1000", "pr")
                items = log.get("items", []) if s == 200 else []
                done = any(i["record"]["action"] == "bundle" for i in items)
                return items if done else None
            items = self.wait_for(reads, "the access records in the log")
            who = {(i["record"]["principal"], i["record"]["action"]) for i in items}
            self.assertIn(("A81001", "trail"), who)
            self.assertIn(("auditor", "flags"), who)
            self.assertIn(("A81001", "bundle"), who)

            self.api.terminate(10)
            c.ingest.terminate(30)
            for name in os.listdir(c.dir):
                if name.endswith(".log"):
                    with open(os.path.join(c.dir, name), errors="replace") as f:
                        text = f.read()
                    for token in TOKENS.values():
                        self.assertNotIn(token, text, name)
            self.assertEqual(c.cli("log", "verify").returncode, 0)
            out = subprocess.run(["node", os.path.join(ROOT, "tools/openapi/validate.mjs"),
                                  os.path.join(ROOT, "docs/openapi.yaml"), self.responses],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("%d passed, 0 failed" % self.kept, out.stdout)


if __name__ == "__main__":
    unittest.main()
