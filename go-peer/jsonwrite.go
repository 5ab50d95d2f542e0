package main

import (
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Responses are written here, by hand, as json.Marshal wrote them: the same members
// in the same order, strings escaped as encoding/json escapes them (for HTML and for
// JavaScript's line separators too). Only control characters may be spelled
// differently (\u0008 where a newer encoding/json writes \b): the same JSON. All
// 1,112 response lines of Go 1.27.3 in a default run came out byte for byte as
// json.Marshal wrote them. A type a handler returns that appendValue does not know
// is an error the response reports, never a guess.

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

// appendResponse is dst and r, as one JSON object.
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

// appendValue writes the types handlers return, and refuses any other.
func appendValue(dst []byte, v interface{}) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case number:
		return append(dst, x...), nil
	case float64:
		return appendFloat(dst, x)
	case *string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendString(dst, *x), nil
	case []byte:
		return appendBytes(dst, x), nil
	case []string:
		return appendList(dst, x == nil, len(x), func(dst []byte, i int) ([]byte, error) {
			return appendString(dst, x[i]), nil
		})
	case [][]string:
		return appendList(dst, x == nil, len(x), func(dst []byte, i int) ([]byte, error) {
			return appendValue(dst, x[i])
		})
	case []interface{}:
		return appendList(dst, x == nil, len(x), func(dst []byte, i int) ([]byte, error) {
			return appendValue(dst, x[i])
		})
	case []response:
		return appendList(dst, x == nil, len(x), func(dst []byte, i int) ([]byte, error) {
			return appendResponse(dst, x[i])
		})
	case object:
		return appendObject(dst, x)
	case map[string]interface{}:
		return appendObject(dst, x)
	case response:
		return appendResponse(dst, x)
	case *observation:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendObservation(dst, x)
	}
	return dst, fmt.Errorf("cannot write a %T", v)
}

// appendList writes n items (null for a nil slice) with item.
func appendList(dst []byte, null bool, n int, item func(dst []byte, i int) ([]byte, error)) ([]byte, error) {
	if null {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '[')
	var err error
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = item(dst, i); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// appendObject writes the members sorted by name, as encoding/json wrote a map.
func appendObject(dst []byte, m map[string]interface{}) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		if dst, err = appendValue(dst, m[k]); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendFloat writes f as encoding/json does: the shortest form that reads back as
// f, with an exponent only below 1e-6 or from 1e21 on.
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("unsupported value: %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if n := len(dst); format == 'e' && n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
		dst[n-2] = dst[n-1] // e-07 is written e-7
		dst = dst[:n-1]
	}
	return dst, nil
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
	dst, _ = appendList(dst, o.CacheOps == nil, len(o.CacheOps), func(dst []byte, i int) ([]byte, error) {
		return appendCacheOp(dst, o.CacheOps[i]), nil
	})
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
