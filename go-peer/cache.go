package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"sort"
	"sync"
)

// cacheOp is one call the client made on its ClientSessionCache.
// appendCacheOp (jsonwrite.go) writes it; the members after key only when set.
type cacheOp struct {
	Op     string // "get", "put" or "delete" (Put with a nil session)
	Key    string
	Hit    *bool
	Ticket string // SHA-256 of the ticket, hex
	Note   string
}

// recordingCache wraps the standard LRU cache and records every call in order.
// With tamper set (config misbehave), Get hands back what tamper makes of the
// stored session, and records tamper's note.
type recordingCache struct {
	inner  tls.ClientSessionCache
	mu     sync.Mutex
	ops    []cacheOp
	keys   map[string]string // key -> ticket hash of what was last put
	tamper func(cs *tls.ClientSessionState) (*tls.ClientSessionState, string)
}

func newRecordingCache(capacity int) *recordingCache {
	return &recordingCache{inner: tls.NewLRUClientSessionCache(capacity), keys: map[string]string{}}
}

func ticketHash(ticket []byte) string {
	sum := sha256.Sum256(ticket)
	return hex.EncodeToString(sum[:])
}

func (c *recordingCache) Get(key string) (*tls.ClientSessionState, bool) {
	cs, ok := c.inner.Get(key)
	hit := ok && cs != nil
	op := cacheOp{Op: "get", Key: key, Hit: &hit}
	if hit {
		op.Ticket = ticketHash(sessionTicket(cs))
		if c.tamper != nil {
			cs, op.Note = c.tamper(cs)
		}
	}
	c.mu.Lock()
	c.ops = append(c.ops, op)
	c.mu.Unlock()
	return cs, ok
}

func (c *recordingCache) Put(key string, cs *tls.ClientSessionState) {
	op := cacheOp{Op: "delete", Key: key}
	if cs != nil {
		op = cacheOp{Op: "put", Key: key, Ticket: ticketHash(sessionTicket(cs))}
	}
	c.mu.Lock()
	c.ops = append(c.ops, op)
	if cs != nil {
		c.keys[key] = op.Ticket
	} else {
		delete(c.keys, key)
	}
	c.mu.Unlock()
	c.inner.Put(key, cs)
}

func (c *recordingCache) takeOps() []cacheOp {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = nil
	if ops == nil {
		ops = []cacheOp{}
	}
	return ops
}

// dump lists the keys whose last Put stored a session, with that ticket's hash.
func (c *recordingCache) dump() []interface{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.keys))
	for k := range c.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]interface{}, len(keys))
	for i, k := range keys {
		out[i] = map[string]interface{}{"key": k, "ticket": c.keys[k]}
	}
	return out
}
