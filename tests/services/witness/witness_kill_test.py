"""`probity witness` SIGKILLed at random (seeded) moments while a log's checkpoints are submitted
to it, and restarted each time: it never rolls back (a 409 after a restart names a size at least
the last one it answered 200 for, and its /<origin hash>/checkpoint is never older), and it ends
holding the log's last checkpoint. Proofs and notes come from the probity CLI, as a log's
operator would send them.
"""

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

PROBITY = os.environ["PROBITY_BIN"]
MAKE_TEST_LOG = os.environ["MAKE_TEST_LOG"]
PORTS = (43800, 43999)
SIZES = list(range(100, 2001, 100))


def run(*args):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (args, r.returncode, r.stderr))
    return r.stdout


def post(url, body):
    req = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    rng = random.Random(int(os.environ.get("SEED", "12")))
    d = tempfile.mkdtemp(prefix="probity_witness_kill_")
    proc = None
    try:
        run(MAKE_TEST_LOG, d, str(SIZES[-1]), ",".join(map(str, SIZES)))
        run(PROBITY, "keygen", "--cosigner", "--name", "witness.test/w1", "--out-dir", d + "/w")
        notes = {s: run(PROBITY, "log", "checkpoint", "--size", str(s), "--data-dir", d)
                 for s in SIZES}

        def start():
            for _ in range(20):
                port = rng.randint(*PORTS)
                p = subprocess.Popen([PROBITY, "witness", "--key", d + "/w/probity.key", "--log",
                                      d + "/keys/probity.pub", "--state-dir", d + "/state",
                                      "--http-port", str(port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                line = p.stdout.readline().decode()
                if "add-checkpoint" in line:
                    return p, "http://127.0.0.1:%d" % port
                p.wait()
            raise AssertionError("probity witness did not start: " + line)

        def body(old, size):
            lines = b""
            if 0 < old < size:
                proof = json.loads(run(PROBITY, "log", "proof", "consistency", "--from",
                                       str(old), "--to", str(size), "--json", "--data-dir", d))
                lines = b"".join(h.encode() + b"\n" for h in proof["hashes"])
            return b"old %d\n" % old + lines + b"\n" + notes[size]

        proc, url = start()
        held, acked, kills, i = 0, 0, 0, 0
        origin_hash = hashlib.sha256(b"probity.test/log").hexdigest()
        while acked < SIZES[-1]:
            size = next(s for s in SIZES if s > held) if held < SIZES[-1] else SIZES[-1]
            kill_at = rng.random() * 0.03 if rng.random() < 0.5 else None
            timer = None
            if kill_at is not None:
                timer = threading.Timer(kill_at, proc.send_signal, [signal.SIGKILL])
                timer.start()
            try:
                status, answer = post(url + "/add-checkpoint", body(held, size))
            except OSError:
                status, answer = None, b""
            if timer:
                timer.join()
            if status == 200:
                acked = held = size
            elif status == 409:
                held = int(answer)
            elif status is not None:
                raise AssertionError("witness answered %s: %s" % (status, answer))
            if kill_at is not None:
                proc.wait()
                kills += 1
                proc, url = start()
                # After a restart: what it holds is never below what it acknowledged.
                status, answer = post(url + "/add-checkpoint", b"old 0\n\n" + notes[SIZES[0]])
                if acked:
                    assert status == 409 and int(answer) >= acked, (status, answer, acked)
                    held = int(answer)
                with urllib.request.urlopen("%s/%s/checkpoint" % (url, origin_hash)) as r:
                    got = int(r.read().split(b"\n")[1]) if acked else None
                assert got is None or got >= acked, (got, acked)
            i += 1
            assert i < 500, "no progress"
        assert kills >= 5, kills
        print("witness_kill: ok: %d checkpoints cosigned through %d kills" % (len(SIZES), kills))
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
