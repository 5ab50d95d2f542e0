//go:build go1.21

package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
)

// parseSessionsMax bounds one request: a batch, not a whole campaign.
const parseSessionsMax = 100000

type parseSessionsParams struct {
	Kind  string   `json:"kind"` // "session" or "ticket"
	Keys  []string `json:"keys"` // ticket keys, 64 hex digits each (kind ticket)
	Blobs [][]byte `json:"blobs"`
}

// parsedBlob is what this release made of one blob: exactly one key is set.
// Bytes: accepted, SessionState.Bytes() of what was parsed; Error: refused, Go's
// error string; None: a ticket DecryptTicket turned into no session (a full handshake).
type parsedBlob struct {
	Bytes []byte `json:"bytes,omitempty"`
	Error string `json:"error,omitempty"`
	None  bool   `json:"none,omitempty"`
}

// opParseSessions judges many blobs in one request, for the session fuzzer:
// ParseSessionState (kind session) or Config.DecryptTicket under the given keys
// (kind ticket), then Bytes() of the result, so the harness compares exactly
// what each release kept.
func opParseSessions(p *peer, raw json.RawMessage) (interface{}, error) {
	var params parseSessionsParams
	if err := decodeParams(raw, &params); err != nil {
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
	out := make([]parsedBlob, len(params.Blobs))
	for i, blob := range params.Blobs {
		state, err := parse(blob)
		switch {
		case err != nil:
			out[i].Error = err.Error()
		case state == nil:
			out[i].None = true
		default:
			b, err := state.Bytes()
			if err != nil {
				out[i].Error = "Bytes: " + err.Error()
			} else {
				out[i].Bytes = b
			}
		}
	}
	return map[string]interface{}{"results": out}, nil
}
