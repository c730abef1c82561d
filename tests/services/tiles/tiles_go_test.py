"""The log read through c2sp.org/tlog-tiles by Go's own code (tests/services/tiles/tilecheck.go).

make_test_log writes a log of 70,000 entries with checkpoints at 1,000 and 70,000 (full and
partial tiles at levels 0, 1 and 2); `probity tiles` serves it; the Go program reads the tree
through golang.org/x/mod/sumdb/tlog's TileHashReader at the C2SP paths and checks the checkpoint,
inclusion proofs of exact leaf bytes (`probity log get --raw`) and a consistency proof, which must
equal Probity's own. Also: entry bundles are refused, tiles beyond the checkpoint are not served,
and a tile's bytes are the leaf hashes.
"""

import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PROBITY = os.environ["PROBITY_BIN"]
MAKE_TEST_LOG = os.environ["MAKE_TEST_LOG"]
TILECHECK = os.environ["TILECHECK_SRC"]
PORTS = (43500, 43999)  # this helper's range


def run(*args, **kw):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s %s" % (args, r.returncode, r.stdout, r.stderr))
    return r.stdout


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def main():
    d = tempfile.mkdtemp(prefix="probity_tiles_")
    server = None
    try:
        run(MAKE_TEST_LOG, d, "70000", "1000,70000")
        for _ in range(10):
            port = random.randint(*PORTS)
            server = subprocess.Popen([PROBITY, "tiles", "--store", d + "/log", "--http-port",
                                       str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            line = server.stdout.readline().decode()
            if "serving" in line:
                break
            server.wait()
            server = None
        assert server, "probity tiles did not start"
        base = "http://127.0.0.1:%d" % port

        status, body, headers = fetch(base + "/checkpoint")
        assert status == 200 and body.startswith(b"probity.test/log\n70000\n"), (status, body)
        assert headers["Content-Type"].startswith("text/plain"), headers
        status, body, headers = fetch(base + "/tile/0/000")
        assert status == 200 and len(body) == 8192, (status, len(body))
        leaf0 = run(PROBITY, "log", "get", "0", "--raw", "--data-dir", d)
        assert body[:32] == hashlib.sha256(b"\x00" + leaf0).digest()
        assert "immutable" in headers["Cache-Control"], headers
        for path, want in [("/tile/entries/000", 404),        # entries are never served
                           ("/tile/entries/000.p/5", 404),
                           ("/tile/2/000.p/2", 404),          # beyond the checkpoint (width 1)
                           ("/tile/0/273.p/113", 404),        # 70,000 = 273 * 256 + 112
                           ("/tile/0/273.p/112", 200),
                           ("/tile/1/001.p/17", 200),
                           ("/tile/0/0", 400),                # not the canonical spelling
                           ("/tile/0/x000/000", 400)]:
            status, body, _ = fetch(base + path)
            assert status == want, (path, status, body[:200])

        with open(d + "/old.note", "wb") as f:
            f.write(run(PROBITY, "log", "checkpoint", "--size", "1000", "--data-dir", d))
        with open(d + "/cons.json", "wb") as f:
            f.write(run(PROBITY, "log", "proof", "consistency", "--from", "1000", "--json",
                        "--data-dir", d))
        leaves = []
        for i in [0, 1, 255, 256, 65535, 65536, 69999]:
            path = "%s/leaf%d" % (d, i)
            run(PROBITY, "log", "get", str(i), "--raw", "--out", path, "--data-dir", d)
            leaves.append("%d=%s" % (i, path))
        env = dict(os.environ, GOPATH="/usr/share/gocode", GO111MODULE="off",
                   GOCACHE=d + "/gocache", GOFLAGS="")
        out = run("go", "run", TILECHECK, "-url", base, "-vkey", d + "/keys/probity.pub",
                  "-old", d + "/old.note", "-consistency", d + "/cons.json",
                  "-leaves", ",".join(leaves), env=env).decode()
        print(out.strip())
        assert out.startswith("ok size=70000"), out
        assert "records=7" in out and "consistency=1000->70000" in out, out
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(d, ignore_errors=True)
    print("tiles_go: ok")


if __name__ == "__main__":
    main()
