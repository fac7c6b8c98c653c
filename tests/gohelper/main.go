// Command gohelper is the Go oracle of gomodproxy's test suite.
//
// It reads one JSON object per line on stdin, {"op": "<name>", ...arguments}, and writes one
// JSON object per line on stdout with the answer of golang.org/x/mod (or the standard library)
// for that question. Protocol errors (unknown op, bad arguments, a panic) come back as
// {"protocol_error": "..."}; the library's own error texts come back in "err" fields, empty
// when there was none. Binary data (file contents, hashes) travels as standard base64.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

type request map[string]json.RawMessage

type handler func(req request) (map[string]any, error)

var handlers = map[string]handler{}

func register(name string, h handler) {
	if _, dup := handlers[name]; dup {
		panic("duplicate op " + name)
	}
	handlers[name] = h
}

// errText is the text of err, or "" for nil: the JSON form of "no error".
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// arg decodes the argument name of req into dst; a missing argument is an error.
func arg(req request, name string, dst any) error {
	raw, ok := req[name]
	if !ok {
		return fmt.Errorf("missing argument %q", name)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("argument %q: %v", name, err)
	}
	return nil
}

func str(req request, name string) (string, error) {
	var s string
	err := arg(req, name, &s)
	return s, err
}

func serve(in io.Reader, out io.Writer) error {
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 1<<20), 256<<20)
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for scanner.Scan() {
		answer := answer(scanner.Bytes())
		if err := enc.Encode(answer); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return scanner.Err()
}

func answer(line []byte) (result map[string]any) {
	defer func() {
		if r := recover(); r != nil {
			result = map[string]any{"protocol_error": fmt.Sprintf("panic: %v", r)}
		}
	}()
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return map[string]any{"protocol_error": "bad request line: " + err.Error()}
	}
	op, err := str(req, "op")
	if err != nil {
		return map[string]any{"protocol_error": err.Error()}
	}
	h, ok := handlers[op]
	if !ok {
		return map[string]any{"protocol_error": "unknown op " + op}
	}
	res, err := h(req)
	if err != nil {
		return map[string]any{"protocol_error": op + ": " + err.Error()}
	}
	return res
}

func main() {
	if err := serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gohelper:", err)
		os.Exit(1)
	}
}
