package main

// Questions about module zips and hashes (golang.org/x/mod/zip, golang.org/x/mod/sumdb/dirhash).

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

func init() {
	register("hash1", opHash1)
	register("hash_zip", opHashZip)
	register("hash_go_mod", opHashGoMod)
	register("hash_dir", opHashDir)
	register("check_zip", opCheckZip)
	register("check_files", opCheckFiles)
	register("check_dir", opCheckDir)
	register("create_zip", opCreateZip)
	register("create_zip_from_dir", opCreateZipFromDir)
	register("unzip", opUnzip)
}

// memFile is a file given in the request: {"path", "data" (base64), "kind", "size"}.
// kind is "regular" (default), "symlink" or "dir"; size, when present, overrides the size
// Lstat reports (to model files that change size between check and read).
type memFile struct {
	Name string `json:"path"`
	Data string `json:"data"`
	Kind string `json:"kind"`
	Size *int64 `json:"size"`

	content []byte
}

func (f *memFile) Path() string { return f.Name }

func (f *memFile) Lstat() (os.FileInfo, error) { return memInfo{f}, nil }

func (f *memFile) Open() (io.ReadCloser, error) {
	if f.Kind != "" && f.Kind != "regular" {
		return nil, errors.New("not a regular file")
	}
	return io.NopCloser(bytes.NewReader(f.content)), nil
}

type memInfo struct{ f *memFile }

func (i memInfo) Name() string { return i.f.Name }
func (i memInfo) Size() int64 {
	if i.f.Size != nil {
		return *i.f.Size
	}
	return int64(len(i.f.content))
}
func (i memInfo) Mode() fs.FileMode {
	switch i.f.Kind {
	case "symlink":
		return fs.ModeSymlink | 0o777
	case "dir":
		return fs.ModeDir | 0o755
	default:
		return 0o644
	}
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.f.Kind == "dir" }
func (i memInfo) Sys() any           { return nil }

func memFiles(req request) ([]*memFile, error) {
	var files []*memFile
	if err := arg(req, "files", &files); err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := base64.StdEncoding.DecodeString(f.Data)
		if err != nil {
			return nil, err
		}
		f.content = data
	}
	return files, nil
}

func modVersion(req request) (module.Version, error) {
	p, err := str(req, "path")
	if err != nil {
		return module.Version{}, err
	}
	v, err := str(req, "version")
	if err != nil {
		return module.Version{}, err
	}
	return module.Version{Path: p, Version: v}, nil
}

func opHash1(req request) (map[string]any, error) {
	files, err := memFiles(req)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(files))
	byName := map[string][]byte{}
	for i, f := range files {
		names[i] = f.Name
		byName[f.Name] = f.content
	}
	h, herr := dirhash.Hash1(names, func(name string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(byName[name])), nil
	})
	return map[string]any{"result": h, "err": errText(herr)}, nil
}

func opHashZip(req request) (map[string]any, error) {
	zipPath, err := str(req, "zip")
	if err != nil {
		return nil, err
	}
	h, herr := dirhash.HashZip(zipPath, dirhash.Hash1)
	return map[string]any{"result": h, "err": errText(herr)}, nil
}

func opHashGoMod(req request) (map[string]any, error) {
	var data []byte // base64 in JSON
	if err := arg(req, "data", &data); err != nil {
		return nil, err
	}
	h, herr := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	return map[string]any{"result": h, "err": errText(herr)}, nil
}

func opHashDir(req request) (map[string]any, error) {
	dir, err := str(req, "dir")
	if err != nil {
		return nil, err
	}
	prefix, err := str(req, "prefix")
	if err != nil {
		return nil, err
	}
	h, herr := dirhash.HashDir(dir, prefix, dirhash.Hash1)
	return map[string]any{"result": h, "err": errText(herr)}, nil
}

func fileErrors(list []modzip.FileError) [][2]string {
	out := make([][2]string, len(list))
	for i, fe := range list {
		out[i] = [2]string{fe.Path, errText(fe.Err)}
	}
	return out
}

func checked(cf modzip.CheckedFiles, err error) map[string]any {
	valid := cf.Valid
	if valid == nil {
		valid = []string{}
	}
	return map[string]any{
		"valid":      valid,
		"omitted":    fileErrors(cf.Omitted),
		"invalid":    fileErrors(cf.Invalid),
		"size_error": errText(cf.SizeError),
		"err":        errText(err),
	}
}

func opCheckZip(req request) (map[string]any, error) {
	m, err := modVersion(req)
	if err != nil {
		return nil, err
	}
	zipPath, err := str(req, "zip")
	if err != nil {
		return nil, err
	}
	return checked(modzip.CheckZip(m, zipPath)), nil
}

func opCheckFiles(req request) (map[string]any, error) {
	files, err := memFiles(req)
	if err != nil {
		return nil, err
	}
	list := make([]modzip.File, len(files))
	for i, f := range files {
		list[i] = f
	}
	return checked(modzip.CheckFiles(list)), nil
}

func opCheckDir(req request) (map[string]any, error) {
	dir, err := str(req, "dir")
	if err != nil {
		return nil, err
	}
	return checked(modzip.CheckDir(dir)), nil
}

// writeZip runs create into the file out; the file is removed when create fails.
func writeZip(out string, create func(io.Writer) error) (map[string]any, error) {
	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	cerr := create(f)
	if err := f.Close(); err != nil && cerr == nil {
		cerr = err
	}
	if cerr != nil {
		os.Remove(out)
		return map[string]any{"err": errText(cerr), "hash": ""}, nil
	}
	h, herr := dirhash.HashZip(out, dirhash.Hash1)
	return map[string]any{"err": errText(herr), "hash": h}, nil
}

func opCreateZip(req request) (map[string]any, error) {
	m, err := modVersion(req)
	if err != nil {
		return nil, err
	}
	files, err := memFiles(req)
	if err != nil {
		return nil, err
	}
	out, err := str(req, "out")
	if err != nil {
		return nil, err
	}
	list := make([]modzip.File, len(files))
	for i, f := range files {
		list[i] = f
	}
	return writeZip(out, func(w io.Writer) error { return modzip.Create(w, m, list) })
}

func opCreateZipFromDir(req request) (map[string]any, error) {
	m, err := modVersion(req)
	if err != nil {
		return nil, err
	}
	dir, err := str(req, "dir")
	if err != nil {
		return nil, err
	}
	out, err := str(req, "out")
	if err != nil {
		return nil, err
	}
	return writeZip(out, func(w io.Writer) error { return modzip.CreateFromDir(w, m, dir) })
}

func opUnzip(req request) (map[string]any, error) {
	m, err := modVersion(req)
	if err != nil {
		return nil, err
	}
	zipPath, err := str(req, "zip")
	if err != nil {
		return nil, err
	}
	dir, err := str(req, "dir")
	if err != nil {
		return nil, err
	}
	return map[string]any{"err": errText(modzip.Unzip(dir, m, zipPath))}, nil
}
