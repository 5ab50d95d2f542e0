package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"unicode/utf8"
)

// The control protocol's lines, read and written without reflection where it pays.
//
// encoding/json was 13% of a Go peer's CPU in a default run (perf): a batch of
// configure requests was scanned three times before its handler saw it (the line,
// the batch's list, each request's params), and every observation was written by
// reflection. Here one validating scan cuts a request's id, op and params out of its
// line, a batch's requests and a pair's halves out of theirs, and responses are
// written by hand. A handler's own params are still decoded by encoding/json. A line
// the fast path does not take (an escaped or unknown key, an id that is not a plain
// integer) goes to encoding/json whole, so every line means what it meant before.

// The writers below name every field of these structs. A field added to one and not
// to its writer would be left out of every response without a word, so a peer built
// that way refuses to start (and every test with it).
func init() {
	for _, s := range []struct {
		value  interface{}
		fields int
	}{{response{}, 5}, {observation{}, 13}, {cacheOp{}, 5}} {
		if t := reflect.TypeOf(s.value); t.NumField() != s.fields {
			panic(fmt.Sprintf("go-peer: %s has %d fields, its writer in lines.go %d", t, t.NumField(), s.fields))
		}
	}
}

// maxDepth is encoding/json's nesting limit: a deeper value goes to encoding/json,
// which refuses it with its own error.
const maxDepth = 10000

// readRequest is json.Unmarshal(line, &req), faster for the lines the harness writes.
// The params are copied: the caller's line is a scanner's buffer, reused.
func readRequest(line []byte) (request, error) {
	if req, ok := fastRequest(line, true); ok {
		return req, nil
	}
	var req request
	err := json.Unmarshal(line, &req)
	return req, err
}

// fastRequest reads {"id": N, "op": "name", "params": {...}} in any order, each key
// at most meaning what encoding/json makes of it; ok is false for anything else.
func fastRequest(b []byte, copyParams bool) (req request, ok bool) {
	ok = members(b, func(key, value []byte) bool {
		switch string(key) {
		case "id":
			id, err := strconv.ParseInt(string(value), 10, 64) // a JSON number already: no sign, no space
			req.ID = id
			return err == nil
		case "op":
			op, plain := plainString(value)
			req.Op = op
			return plain
		case "params":
			if copyParams {
				value = append([]byte(nil), value...)
			}
			req.Params = value
			return true
		}
		return false
	})
	return req, ok
}

// readBatch is decodeParams(raw, &batchParams), faster for {"requests": [...]}.
func readBatch(raw json.RawMessage) ([]request, error) {
	var requests []request
	fast := members(raw, func(key, value []byte) bool {
		if string(key) != "requests" {
			return false
		}
		requests = requests[:0]
		return elements(value, func(item []byte) bool {
			req, ok := fastRequest(item, false)
			requests = append(requests, req)
			return ok
		})
	})
	if fast {
		return requests, nil
	}
	var params batchParams
	err := decodeParams(raw, &params)
	return params.Requests, err
}

// readPair is decodeParams(raw, &pairParams), faster for the three halves alone.
func readPair(raw json.RawMessage) (pairParams, error) {
	var params pairParams
	fast := members(raw, func(key, value []byte) bool {
		switch string(key) {
		case "listen":
			params.Listen = value
		case "accept":
			params.Accept = value
		case "connect":
			params.Connect = value
		default:
			return false
		}
		return true
	})
	if fast {
		return params, nil
	}
	params = pairParams{}
	err := decodeParams(raw, &params)
	return params, err
}

// withPort is a connect request's params with its port set: the object's members and
// then "port" (of two equal keys encoding/json takes the last, as the map this
// replaces did). ok is false if raw is not an object.
func withPort(raw json.RawMessage, port int) (json.RawMessage, bool) {
	start, end := skipSpace(raw, 0), len(raw)
	for end > start && isSpace(raw[end-1]) {
		end--
	}
	if end-start < 2 || raw[start] != '{' || raw[end-1] != '}' || scanValue(raw, start, 0) != end {
		return nil, false
	}
	out := make([]byte, 0, end-start+16)
	out = append(out, raw[start:end-1]...)
	if skipSpace(raw, start+1) != end-1 { // members before ours
		out = append(out, ',')
	}
	out = append(out, `"port":`...)
	out = strconv.AppendInt(out, int64(port), 10)
	return append(out, '}'), true
}

// ---------------------------------------------------------------- scanning

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// members calls f with each key (unescaped keys only) and value of the object that is
// all of b but space, in order; false if b is not such an object, a key has an escape,
// or f says no.
func members(b []byte, f func(key, value []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		end, escaped := scanString(b, i)
		if end < 0 || escaped {
			return false
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		end = scanValue(b, i, 1)
		if end < 0 || !f(key, b[i:end]) {
			return false
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return skipSpace(b, i+1) == len(b)
		}
		if b[i] != ',' {
			return false
		}
		i = skipSpace(b, i+1)
	}
}

// elements calls f with each element of the array that is all of b (a value members
// handed over: valid, no space around it); false if b is not an array or f says no.
func elements(b []byte, f func(item []byte) bool) bool {
	if len(b) < 2 || b[0] != '[' {
		return false
	}
	i := skipSpace(b, 1)
	if b[i] == ']' {
		return true
	}
	for {
		end := scanValue(b, i, 1)
		if end < 0 || !f(b[i:end]) {
			return false
		}
		i = skipSpace(b, end)
		if b[i] == ']' {
			return true
		}
		i = skipSpace(b, i+1) // a comma: b is valid
	}
}

// plainString is the text of a JSON string without escapes; false for any other value.
func plainString(value []byte) (string, bool) {
	end, escaped := scanString(value, 0)
	if end != len(value) || escaped {
		return "", false
	}
	return string(value[1 : end-1]), true
}

// scanValue is the end of the JSON value that starts at b[i], or -1 if none does.
func scanValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := scanString(b, i)
		return end
	case c == '{', c == '[':
		if depth >= maxDepth {
			return -1
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1
		}
		for {
			if c == '{' {
				end, _ := scanString(b, i)
				if end < 0 {
					return -1
				}
				i = skipSpace(b, end)
				if i >= len(b) || b[i] != ':' {
					return -1
				}
				i = skipSpace(b, i+1)
			}
			if i = scanValue(b, i, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == closing {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipSpace(b, i+1)
		}
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '-' || ('0' <= c && c <= '9'):
		return scanNumber(b, i)
	}
	return -1
}

func literal(b []byte, i int, word string) int {
	if len(b)-i >= len(word) && string(b[i:i+len(word)]) == word {
		return i + len(word)
	}
	return -1
}

// scanString is the end of the JSON string that starts at b[i] (-1 if none does) and
// whether it holds an escape.
func scanString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return -1, false
	}
	escaped := false
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return -1, false
			}
			i++
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1, false
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1, false
					}
				}
				i += 4
			default:
				return -1, false
			}
		case c < 0x20:
			return -1, false
		}
	}
	return -1, false
}

// scanNumber is the end of the JSON number that starts at b[i], or -1.
func scanNumber(b []byte, i int) int {
	digits := func(i int) int {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == start {
			return -1
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if i = digits(i); i < 0 {
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i = digits(i + 1); i < 0 {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i = digits(i); i < 0 {
			return -1
		}
	}
	return i
}

// ---------------------------------------------------------------- writing

// appendResponse is dst and r written as json.Marshal writes it: the same members in
// the same order, strings escaped as encoding/json escapes them (for HTML and for
// JavaScript's line separators too). Only control characters may be spelled
// differently (\u0008 where a newer encoding/json writes \b): the same JSON.
func appendResponse(dst []byte, r response) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, r.ID, 10)
	dst = append(dst, `,"ok":`...)
	dst = strconv.AppendBool(dst, r.OK)
	var err error
	if r.Result != nil {
		dst = append(dst, `,"result":`...)
		if dst, err = appendValue(dst, r.Result); err != nil {
			return dst, err
		}
	}
	if r.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = appendString(dst, r.Error)
	}
	if r.Unsupported != "" {
		dst = append(dst, `,"unsupported":`...)
		dst = appendString(dst, r.Unsupported)
	}
	return append(dst, '}'), nil
}

// appendValue writes the types handlers return by hand, anything else with json.Marshal.
func appendValue(dst []byte, v interface{}) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case *string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendString(dst, *x), nil
	case []byte:
		return appendBytes(dst, x), nil
	case []string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']'), nil
	case [][]string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst, _ = appendValue(dst, s)
		}
		return append(dst, ']'), nil
	case map[string]interface{}:
		if x == nil {
			return append(dst, "null"...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			if dst, err = appendValue(dst, x[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case response:
		return appendResponse(dst, x)
	case []response:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, r := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendResponse(dst, r); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case *observation:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendObservation(dst, x)
	}
	b, err := json.Marshal(v)
	return append(dst, b...), err
}

// appendObservation writes the fields in the struct's order, with its omitempty rules.
func appendObservation(dst []byte, o *observation) ([]byte, error) {
	dst = append(dst, `{"conn_id":`...)
	dst = appendString(dst, o.ConnID)
	dst = append(dst, `,"role":`...)
	dst = appendString(dst, o.Role)
	dst = append(dst, `,"handshake_error":`...)
	dst, _ = appendValue(dst, o.HandshakeError)
	dst = append(dst, `,"io_error":`...)
	dst, _ = appendValue(dst, o.IOError)
	dst = append(dst, `,"received":`...)
	dst = appendString(dst, o.Received)
	var err error
	if len(o.State) > 0 {
		dst = append(dst, `,"state":`...)
		if dst, err = appendValue(dst, o.State); err != nil {
			return dst, err
		}
	}
	dst = append(dst, `,"written":`...)
	dst = appendBytes(dst, o.Written)
	dst = append(dst, `,"read":`...)
	dst = appendBytes(dst, o.Read)
	dst = append(dst, `,"keylog":`...)
	dst = appendString(dst, o.Keylog)
	dst = append(dst, `,"cache_ops":`...)
	if o.CacheOps == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, op := range o.CacheOps {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCacheOp(dst, op)
		}
		dst = append(dst, ']')
	}
	if o.LocalPort != 0 {
		dst = append(dst, `,"local_port":`...)
		dst = strconv.AppendInt(dst, int64(o.LocalPort), 10)
	}
	if o.RemotePort != 0 {
		dst = append(dst, `,"remote_port":`...)
		dst = strconv.AppendInt(dst, int64(o.RemotePort), 10)
	}
	if o.ECHRetryConfigs != nil {
		dst = append(dst, `,"ech_retry_configs":`...)
		dst = appendString(dst, *o.ECHRetryConfigs)
	}
	return append(dst, '}'), nil
}

func appendCacheOp(dst []byte, op cacheOp) []byte {
	dst = append(dst, `{"op":`...)
	dst = appendString(dst, op.Op)
	dst = append(dst, `,"key":`...)
	dst = appendString(dst, op.Key)
	if op.Hit != nil {
		dst = append(dst, `,"hit":`...)
		dst = strconv.AppendBool(dst, *op.Hit)
	}
	if op.Ticket != "" {
		dst = append(dst, `,"ticket":`...)
		dst = appendString(dst, op.Ticket)
	}
	if op.Note != "" {
		dst = append(dst, `,"note":`...)
		dst = appendString(dst, op.Note)
	}
	return append(dst, '}')
}

// appendBytes is encoding/json's []byte: standard base64 in a string, null for nil.
func appendBytes(dst []byte, b []byte) []byte {
	if b == nil {
		return append(dst, "null"...)
	}
	n, need := len(dst)+1, base64.StdEncoding.EncodedLen(len(b))
	if cap(dst) < n+need+1 {
		grown := make([]byte, len(dst), 2*cap(dst)+need+1)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, '"')
	dst = dst[:n+need]
	base64.StdEncoding.Encode(dst[n:], b)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendString is s as encoding/json writes a string: <, > and & escaped for HTML, the
// line and paragraph separators escaped for JavaScript, invalid UTF-8 as U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
