// tilecheck reads a Probity log through its c2sp.org/tlog-tiles HTTP endpoints with Go's own
// transparency-log code (golang.org/x/mod/sumdb/tlog and sumdb/note, Debian's
// golang-golang-x-mod-dev; GOPATH mode, no network), and checks it against what Probity's CLI
// hands out:
//
//   - GET /checkpoint opens with note.Open and the log's verifier key;
//   - tlog.TileHashReader, fed by a TileReader that fetches the C2SP paths tile/<L>/<N>[.p/<W>]
//     (x/mod's Tile.Path() is sumdb's tile/<H>/<L>/... form, not used), computes the tree hash,
//     which must be the checkpoint's root;
//   - inclusion proofs of the given entries' exact bytes (probity log get --raw) against it;
//   - a consistency proof from an older checkpoint (probity log checkpoint --size), which must
//     also equal Probity's own (probity log proof consistency --json).
//
// Prints "ok ..." and exits 0, or prints the failure and exits 1.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// c2spTiles fetches hash tiles at the C2SP paths from a tlog-tiles server.
type c2spTiles struct {
	base    string
	fetched int
}

func (r *c2spTiles) Height() int { return 8 }

// path is tile/<L>/<N>[.p/<W>], N in 3-digit groups, all but the last prefixed with "x".
func (r *c2spTiles) path(t tlog.Tile) string {
	n := fmt.Sprintf("%03d", t.N%1000)
	for m := t.N / 1000; m > 0; m /= 1000 {
		n = fmt.Sprintf("x%03d/%s", m%1000, n)
	}
	p := fmt.Sprintf("tile/%d/%s", t.L, n)
	if t.W != 1<<t.H {
		p += fmt.Sprintf(".p/%d", t.W)
	}
	return p
}

func (r *c2spTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		body, err := get(r.base + "/" + r.path(t))
		if err != nil {
			return nil, err
		}
		if len(body) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", r.path(t), len(body), t.W*tlog.HashSize)
		}
		out[i] = body
		r.fetched++
	}
	return out, nil
}

func (r *c2spTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func get(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}

// openCheckpoint opens a checkpoint note with the log's key and returns its size and root.
func openCheckpoint(msg []byte, v note.Verifier) (int64, tlog.Hash) {
	n, err := note.Open(msg, note.VerifierList(v))
	check(err, "open checkpoint")
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 || lines[0] != v.Name() {
		fail("checkpoint text %q is not for origin %s", n.Text, v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	check(err, "checkpoint size")
	root, err := tlog.ParseHash(lines[2])
	check(err, "checkpoint root")
	return size, root
}

func check(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	base := flag.String("url", "", "tiles server, e.g. http://127.0.0.1:43500")
	vkeyFile := flag.String("vkey", "", "file holding the log's verifier key")
	oldFile := flag.String("old", "", "an older checkpoint (probity log checkpoint --size M)")
	consFile := flag.String("consistency", "", "probity log proof consistency --from M --json")
	leaves := flag.String("leaves", "", "comma-separated INDEX=FILE of exact leaf bytes")
	flag.Parse()

	vkey, err := os.ReadFile(*vkeyFile)
	check(err, "read vkey")
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	check(err, "verifier key")

	msg, err := get(*base + "/checkpoint")
	check(err, "checkpoint")
	size, root := openCheckpoint(msg, v)

	tr := &c2spTiles{base: *base}
	hr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tr)
	th, err := tlog.TreeHash(size, hr)
	check(err, "tree hash from tiles")
	if th != root {
		fail("tree hash from tiles %v != checkpoint root %v", th, root)
	}

	n := 0
	for _, spec := range strings.Split(*leaves, ",") {
		if spec == "" {
			continue
		}
		parts := strings.SplitN(spec, "=", 2)
		index, err := strconv.ParseInt(parts[0], 10, 64)
		check(err, "leaf index")
		data, err := os.ReadFile(parts[1])
		check(err, "leaf file")
		p, err := tlog.ProveRecord(size, index, hr)
		check(err, fmt.Sprintf("prove record %d", index))
		check(tlog.CheckRecord(p, size, root, index, tlog.RecordHash(data)),
			fmt.Sprintf("check record %d", index))
		// And a flipped byte of the entry must fail.
		data[0] ^= 1
		if tlog.CheckRecord(p, size, root, index, tlog.RecordHash(data)) == nil {
			fail("record %d with a flipped byte still checks", index)
		}
		n++
	}

	oldMsg, err := os.ReadFile(*oldFile)
	check(err, "read old checkpoint")
	oldSize, oldRoot := openCheckpoint(oldMsg, v)
	tp, err := tlog.ProveTree(size, oldSize, hr)
	check(err, "prove tree")
	check(tlog.CheckTree(tp, size, root, oldSize, oldRoot), "check tree")

	// Probity's own consistency proof (base64 bytes, sizes as strings) must be the same hashes.
	raw, err := os.ReadFile(*consFile)
	check(err, "read consistency proof")
	var cp struct {
		OldSize string   `json:"old_size"`
		NewSize string   `json:"new_size"`
		Hashes  [][]byte `json:"hashes"`
	}
	check(json.Unmarshal(raw, &cp), "parse consistency proof")
	if cp.OldSize != strconv.FormatInt(oldSize, 10) || cp.NewSize != strconv.FormatInt(size, 10) {
		fail("probity's proof is %s -> %s, want %d -> %d", cp.OldSize, cp.NewSize, oldSize, size)
	}
	if len(cp.Hashes) != len(tp) {
		fail("probity's proof has %d hashes, Go's %d", len(cp.Hashes), len(tp))
	}
	for i := range tp {
		if !bytes.Equal(cp.Hashes[i], tp[i][:]) {
			fail("consistency hash %d differs", i)
		}
	}
	fmt.Printf("ok size=%d root=%v records=%d consistency=%d->%d tiles=%d\n", size, root, n,
		oldSize, size, tr.fetched)
}
