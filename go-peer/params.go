package main

import (
	"encoding/base64"
	"fmt"
	"strconv"
)

// An op's params, read from the plain values of its request line (jsonread.go): each
// params type has a read method naming its fields, PROTOCOL.md's names, with these
// accessors; a value of the wrong kind is an error naming the field by its path
// (config.certificates[0].cert_pem) and what was wanted.

// fields reads an op's params into Go values, keeping the first error, which names
// the field: an op reads every field it takes, then checks f.err once. A field that
// is absent or null leaves its Go value as it was, as encoding/json does.
type fields struct {
	o      object
	prefix string // where o is, for the error ("config.")
	err    error
}

// get is the field's value; ok is false for an absent or null field, or after an error.
func (f *fields) get(key string) (interface{}, bool) {
	if f.err != nil {
		return nil, false
	}
	v, ok := f.o[key]
	return v, ok && v != nil
}

func (f *fields) wrong(key, want string, got interface{}) {
	if f.err == nil {
		f.err = fmt.Errorf("%s%s: want %s, got %s", f.prefix, key, want, kindOf(got))
	}
}

func (f *fields) str(key string, dst *string) {
	if v, ok := f.get(key); ok {
		if s, ok := v.(string); ok {
			*dst = s
		} else {
			f.wrong(key, "a string", v)
		}
	}
}

// nested reads the object key with read, its errors named key.field.
func (f *fields) nested(key string, read func(g *fields)) {
	var o object
	if f.object(key, &o); f.err != nil {
		return
	}
	sub := fields{o: o, prefix: f.prefix + key + "."}
	if read(&sub); sub.err != nil {
		f.err = sub.err
	}
}

// bytesList reads an array of base64 strings.
func (f *fields) bytesList(key string, dst *[][]byte) {
	var texts []string
	if f.strs(key, &texts); f.err != nil || texts == nil {
		return
	}
	out := make([][]byte, len(texts))
	for i, s := range texts {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			f.err = fmt.Errorf("%s%s[%d]: not base64: %v", f.prefix, key, i, err)
			return
		}
		out[i] = b
	}
	*dst = out
}

// asString and asStrings read one value, as a clone's overrides give them.
func asString(v interface{}) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %s", kindOf(v))
	}
	return s, nil
}

func asStrings(v interface{}) ([]string, error) {
	f := fields{o: object{"": v}}
	var out []string
	f.strs("", &out)
	return out, f.err
}

func (f *fields) boolean(key string, dst *bool) {
	if v, ok := f.get(key); ok {
		if b, ok := v.(bool); ok {
			*dst = b
		} else {
			f.wrong(key, "true or false", v)
		}
	}
}

func (f *fields) int64(key string, dst *int64) {
	v, ok := f.get(key)
	if !ok {
		return
	}
	switch n := v.(type) {
	case number:
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			f.err = fmt.Errorf("%s%s: want an integer, got %s", f.prefix, key, n)
			return
		}
		*dst = i
	case int: // params made in this process (selfbench, a pair's connect)
		*dst = int64(n)
	case int64:
		*dst = n
	default:
		f.wrong(key, "an integer", v)
	}
}

func (f *fields) integer(key string, dst *int) {
	i := int64(*dst)
	f.int64(key, &i)
	if f.err == nil && int64(int(i)) != i {
		f.err = fmt.Errorf("%s%s: %d is out of range", f.prefix, key, i)
	}
	if f.err == nil {
		*dst = int(i)
	}
}

// array is the field's value as an array; ok is false for an absent or null field, after
// an error, or for a value of another kind (an error saying want).
func (f *fields) array(key, want string) (list []interface{}, ok bool) {
	v, ok := f.get(key)
	if !ok {
		return nil, false
	}
	if list, ok = v.([]interface{}); !ok {
		f.wrong(key, want, v)
	}
	return list, ok
}

func (f *fields) strs(key string, dst *[]string) {
	list, ok := f.array(key, "an array of strings")
	if !ok {
		return
	}
	out := make([]string, len(list))
	for i, item := range list {
		if s, ok := item.(string); ok {
			out[i] = s
		} else {
			f.wrong(fmt.Sprintf("%s[%d]", key, i), "a string", item)
			return
		}
	}
	*dst = out
}

// bytes reads a base64 string (standard alphabet, padded), as encoding/json reads a []byte.
func (f *fields) bytes(key string, dst *[]byte) {
	var s string
	if _, ok := f.get(key); !ok {
		return
	}
	if f.str(key, &s); f.err != nil {
		return
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		f.err = fmt.Errorf("%s%s: not base64: %v", f.prefix, key, err)
		return
	}
	*dst = b
}

func (f *fields) object(key string, dst *object) {
	if v, ok := f.get(key); ok {
		if o, ok := v.(object); ok {
			*dst = o
		} else {
			f.wrong(key, "an object", v)
		}
	}
}

// objects calls read with fields of each object of the array key, in order.
func (f *fields) objects(key string, read func(i int, item *fields)) {
	list, ok := f.array(key, "an array of objects")
	if !ok {
		return
	}
	for i, item := range list {
		o, ok := item.(object)
		if !ok {
			f.wrong(fmt.Sprintf("%s[%d]", key, i), "an object", item)
			return
		}
		sub := fields{o: o, prefix: fmt.Sprintf("%s%s[%d].", f.prefix, key, i)}
		if read(i, &sub); sub.err != nil {
			f.err = sub.err
			return
		}
	}
}

// readParams reads an op's params with read; its error says "bad params", as an op's
// error did when encoding/json refused them.
func readParams(params object, read func(f *fields)) error {
	f := fields{o: params}
	if read(&f); f.err != nil {
		return fmt.Errorf("bad params: %v", f.err)
	}
	return nil
}
