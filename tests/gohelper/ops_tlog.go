package main

// Questions about the checksum database's transparency log (golang.org/x/mod/sumdb/tlog).
// Hashes travel as standard base64, like tlog.Hash.String.

import (
	"encoding/base64"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

func init() {
	register("record_hash", opRecordHash)
	register("node_hash", opNodeHash)
	register("tree_hash", opTreeHash)
	register("stored_hash_index", opStoredHashIndex)
	register("split_stored_hash_index", opSplitStoredHashIndex)
	register("stored_hash_count", opStoredHashCount)
	register("tile_path", opTilePath)
	register("parse_tile_path", opParseTilePath)
	register("tile_for_index", opTileForIndex)
	register("new_tiles", opNewTiles)
	register("format_tree", opFormatTree)
	register("format_record", opFormatRecord)
}

// memHashes is a tlog.HashReader over hashes kept in memory, indexed by storage index.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("hash index %d out of range", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func hashArg(req request, name string) (tlog.Hash, error) {
	var raw []byte
	if err := arg(req, name, &raw); err != nil {
		return tlog.Hash{}, err
	}
	var h tlog.Hash
	if len(raw) != len(h) {
		return h, fmt.Errorf("argument %q: want %d bytes, got %d", name, len(h), len(raw))
	}
	copy(h[:], raw)
	return h, nil
}

func hashText(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func tileMap(t tlog.Tile) map[string]any {
	return map[string]any{"h": t.H, "l": t.L, "n": t.N, "w": t.W, "path": t.Path()}
}

func opRecordHash(req request) (map[string]any, error) {
	var data []byte
	if err := arg(req, "data", &data); err != nil {
		return nil, err
	}
	return map[string]any{"result": hashText(tlog.RecordHash(data))}, nil
}

func opNodeHash(req request) (map[string]any, error) {
	left, err := hashArg(req, "left")
	if err != nil {
		return nil, err
	}
	right, err := hashArg(req, "right")
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": hashText(tlog.NodeHash(left, right))}, nil
}

// opTreeHash builds the tree over the given leaves (record data, base64) and answers the tree
// hash of its first n records for every n from 0 to len(leaves), plus the stored hashes.
func opTreeHash(req request) (map[string]any, error) {
	var leaves [][]byte
	if err := arg(req, "leaves", &leaves); err != nil {
		return nil, err
	}
	var stored memHashes
	for i, leaf := range leaves {
		hashes, err := tlog.StoredHashes(int64(i), leaf, stored)
		if err != nil {
			return map[string]any{"err": err.Error()}, nil
		}
		stored = append(stored, hashes...)
	}
	trees := make([]string, 0, len(leaves)+1)
	for n := 0; n <= len(leaves); n++ {
		h, err := tlog.TreeHash(int64(n), stored)
		if err != nil {
			return map[string]any{"err": err.Error()}, nil
		}
		trees = append(trees, hashText(h))
	}
	storedText := make([]string, len(stored))
	for i, h := range stored {
		storedText[i] = hashText(h)
	}
	return map[string]any{"trees": trees, "stored": storedText, "err": ""}, nil
}

func intArg(req request, name string) (int64, error) {
	var n int64
	err := arg(req, name, &n)
	return n, err
}

func opStoredHashIndex(req request) (map[string]any, error) {
	level, err := intArg(req, "level")
	if err != nil {
		return nil, err
	}
	n, err := intArg(req, "n")
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": tlog.StoredHashIndex(int(level), n)}, nil
}

func opSplitStoredHashIndex(req request) (map[string]any, error) {
	index, err := intArg(req, "index")
	if err != nil {
		return nil, err
	}
	level, n := tlog.SplitStoredHashIndex(index)
	return map[string]any{"level": level, "n": n}, nil
}

func opStoredHashCount(req request) (map[string]any, error) {
	n, err := intArg(req, "n")
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": tlog.StoredHashCount(n)}, nil
}

func opTilePath(req request) (map[string]any, error) {
	var t tlog.Tile
	for name, dst := range map[string]*int{"h": &t.H, "l": &t.L, "w": &t.W} {
		v, err := intArg(req, name)
		if err != nil {
			return nil, err
		}
		*dst = int(v)
	}
	n, err := intArg(req, "n")
	if err != nil {
		return nil, err
	}
	t.N = n
	return map[string]any{"result": t.Path()}, nil
}

func opParseTilePath(req request) (map[string]any, error) {
	p, err := str(req, "path")
	if err != nil {
		return nil, err
	}
	t, perr := tlog.ParseTilePath(p)
	if perr != nil {
		return map[string]any{"err": perr.Error()}, nil
	}
	res := tileMap(t)
	res["err"] = ""
	return res, nil
}

func opTileForIndex(req request) (map[string]any, error) {
	h, err := intArg(req, "h")
	if err != nil {
		return nil, err
	}
	index, err := intArg(req, "index")
	if err != nil {
		return nil, err
	}
	return tileMap(tlog.TileForIndex(int(h), index)), nil
}

func opNewTiles(req request) (map[string]any, error) {
	h, err := intArg(req, "h")
	if err != nil {
		return nil, err
	}
	oldN, err := intArg(req, "old")
	if err != nil {
		return nil, err
	}
	newN, err := intArg(req, "new")
	if err != nil {
		return nil, err
	}
	tiles := tlog.NewTiles(int(h), oldN, newN)
	out := make([]map[string]any, len(tiles))
	for i, t := range tiles {
		out[i] = tileMap(t)
	}
	return map[string]any{"result": out}, nil
}

func opFormatTree(req request) (map[string]any, error) {
	n, err := intArg(req, "n")
	if err != nil {
		return nil, err
	}
	h, err := hashArg(req, "hash")
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": string(tlog.FormatTree(tlog.Tree{N: n, Hash: h}))}, nil
}

func opFormatRecord(req request) (map[string]any, error) {
	id, err := intArg(req, "id")
	if err != nil {
		return nil, err
	}
	var text []byte
	if err := arg(req, "text", &text); err != nil {
		return nil, err
	}
	msg, ferr := tlog.FormatRecord(id, text)
	return map[string]any{"result": msg, "err": errText(ferr)}, nil
}
