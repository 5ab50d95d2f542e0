package main

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// The control protocol's lines are read here, without encoding/json: compiling it took
// 0.5 to 0.7 CPU-s of a peer's cold build on Go 1.19 to 1.24 and 2.5 on 1.25 and later
// (encoding/json/v2 and jsontext), and reading and writing lines with it was 13% of a
// peer's CPU in a default run (perf). A line is read into plain values once, and each
// op takes its params from them with the accessors of params.go.
//
// The values are those encoding/json gives an interface{}, but for numbers, which
// keep their text (number) so that an integer is read exactly: object, []interface{},
// string, number, bool and nil. As with encoding/json, a member the op does not read
// is ignored, and of two members with one name the last counts; unlike it, a name
// must be spelled in the case PROTOCOL.md gives.

// object is a JSON object's members by name.
type object map[string]interface{}

// number is a JSON number's text, valid by the grammar.
type number string

// maxDepth is encoding/json's nesting limit, kept so a hostile line cannot exhaust
// the stack.
const maxDepth = 10000

// readRequest reads one request line: {"id": N, "op": "name", "params": {...}}. On an
// error the request's ID is -1 unless its id was read: then the error answers that id,
// and the harness's request fails at once instead of waiting out its timeout.
func readRequest(line []byte) (request, error) {
	unread := request{ID: -1}
	v, err := parseJSON(line)
	if err != nil {
		return unread, err
	}
	o, ok := v.(object)
	if !ok {
		return unread, fmt.Errorf("want an object, got %s", kindOf(v))
	}
	var req request
	f := fields{o: o}
	if f.int64("id", &req.ID); f.err != nil {
		return unread, f.err
	}
	f.str("op", &req.Op)
	f.object("params", &req.Params)
	return req, f.err
}

// parseJSON reads b, one JSON value with space around it, into plain values.
func parseJSON(b []byte) (interface{}, error) {
	p := parser{b: b}
	p.space()
	v := p.value(0)
	p.space()
	if p.err == nil && p.i < len(p.b) {
		p.fail("after the value")
	}
	return v, p.err
}

type parser struct {
	b   []byte
	i   int
	err error
}

func (p *parser) fail(what string) {
	if p.err != nil {
		return
	}
	if p.i < len(p.b) {
		p.err = fmt.Errorf("invalid character %q %s, at offset %d", p.b[p.i], what, p.i)
	} else {
		p.err = fmt.Errorf("unexpected end of input %s", what)
	}
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) interface{} {
	if p.err != nil {
		return nil
	}
	if depth >= maxDepth {
		p.err = fmt.Errorf("exceeded max depth at offset %d", p.i)
		return nil
	}
	if p.i >= len(p.b) {
		p.fail("looking for a value")
		return nil
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		o := object{}
		p.space()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return o
		}
		for p.err == nil {
			key, ok := p.str()
			if !ok {
				p.fail("looking for a member's name")
				return nil
			}
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				p.fail("after a member's name")
				return nil
			}
			p.i++
			p.space()
			o[key] = p.value(depth + 1)
			p.space()
			if p.i < len(p.b) && p.b[p.i] == '}' {
				p.i++
				return o
			}
			if p.i >= len(p.b) || p.b[p.i] != ',' {
				p.fail("after a member")
				return nil
			}
			p.i++
			p.space()
		}
		return nil
	case c == '[':
		p.i++
		list := []interface{}{}
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return list
		}
		for p.err == nil {
			list = append(list, p.value(depth+1))
			p.space()
			if p.i < len(p.b) && p.b[p.i] == ']' {
				p.i++
				return list
			}
			if p.i >= len(p.b) || p.b[p.i] != ',' {
				p.fail("after an element")
				return nil
			}
			p.i++
			p.space()
		}
		return nil
	case c == '"':
		s, ok := p.str()
		if !ok {
			p.fail("in a string")
			return nil
		}
		return s
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	}
	p.fail("looking for a value")
	return nil
}

func (p *parser) literal(word string, v interface{}) interface{} {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return v
	}
	p.fail("in a literal")
	return nil
}

func (p *parser) number() interface{} {
	start := p.i
	digits := func() bool {
		from := p.i
		for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
			p.i++
		}
		return p.i > from
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if !digits() {
		p.fail("in a number")
		return nil
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if !digits() {
			p.fail("after a decimal point")
			return nil
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if !digits() {
			p.fail("in an exponent")
			return nil
		}
	}
	return number(p.b[start:p.i])
}

// str reads the string at p.i as encoding/json does: escapes resolved, a lone
// surrogate and invalid UTF-8 each U+FFFD. False (p.i left at the fault) if it is
// not a valid string.
func (p *parser) str() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	p.i++
	start := p.i
	for p.i < len(p.b) { // the common string: no escape, ASCII
		c := p.b[p.i]
		if c == '"' {
			p.i++
			return string(p.b[start : p.i-1]), true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p.i++
	}
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", false
			}
			p.i += 2
			switch e := p.b[p.i-1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) { // half of a pair, or U+FFFD
					high := r
					r = utf8.RuneError
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						low, ok := p.hex4()
						if pair := utf16.DecodeRune(high, low); ok && pair != utf8.RuneError {
							r = pair
						} else {
							p.i = save // not its other half: read as an escape of its own
						}
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				p.i--
				return "", false
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, "\uFFFD"...)
			} else {
				out = append(out, p.b[p.i:p.i+size]...)
			}
			p.i += size
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape.
func (p *parser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}

func kindOf(v interface{}) string {
	switch v.(type) {
	case nil:
		return "null"
	case object, map[string]interface{}:
		return "an object"
	case []interface{}:
		return "an array"
	case string:
		return "a string"
	case number, int, int64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}
