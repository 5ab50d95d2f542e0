//go:build go1.21

package main

import (
	"crypto/tls"
	"fmt"
)

// parseSessionsMax bounds one request: a batch, not a whole campaign.
const parseSessionsMax = 100000

type parseSessionsParams struct {
	Kind  string   // "session" or "ticket"
	Keys  []string // ticket keys, 64 hex digits each (kind ticket)
	Blobs [][]byte // base64 on the wire
}

func (p *parseSessionsParams) read(f *fields) {
	f.str("kind", &p.Kind)
	f.strs("keys", &p.Keys)
	f.bytesList("blobs", &p.Blobs)
}

// opParseSessions judges many blobs in one request, for the session fuzzer:
// ParseSessionState (kind session) or Config.DecryptTicket under the given keys
// (kind ticket), then Bytes() of the result, so the harness compares exactly
// what each release kept.
func opParseSessions(p *peer, given object) (interface{}, error) {
	var params parseSessionsParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	if len(params.Blobs) > parseSessionsMax {
		return nil, fmt.Errorf("blobs: %d, at most %d a request", len(params.Blobs), parseSessionsMax)
	}
	var parse func([]byte) (*tls.SessionState, error)
	switch params.Kind {
	case "session":
		parse = tls.ParseSessionState
	case "ticket":
		keys, err := ticketKeys(params.Keys)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("keys: none; a ticket needs at least one key")
		}
		// A config of its own: the keys are this request's, not an endpoint's.
		cfg := &tls.Config{}
		cfg.SetSessionTicketKeys(keys)
		parse = func(b []byte) (*tls.SessionState, error) { return cfg.DecryptTicket(b, tls.ConnectionState{}) }
	default:
		return nil, fmt.Errorf("kind: unknown %q (expected session or ticket)", params.Kind)
	}
	// What this release made of each blob, one key each: bytes, accepted (SessionState.Bytes()
	// of what was parsed); error, refused (Go's error string); none, a ticket DecryptTicket
	// turned into no session (a full handshake).
	out := make([]interface{}, len(params.Blobs))
	for i, blob := range params.Blobs {
		state, err := parse(blob)
		switch {
		case err != nil:
			out[i] = map[string]interface{}{"error": err.Error()}
		case state == nil:
			out[i] = map[string]interface{}{"none": true}
		default:
			b, err := state.Bytes()
			if err != nil {
				out[i] = map[string]interface{}{"error": "Bytes: " + err.Error()}
			} else {
				out[i] = map[string]interface{}{"bytes": b}
			}
		}
	}
	return map[string]interface{}{"results": out}, nil
}
