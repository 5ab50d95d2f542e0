//go:build go1.21

package main

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
)

func apis() map[string]interface{} {
	return map[string]interface{}{"session_state": true, "wrap_session": true, "encrypt_ticket": true}
}

// sessionTicket is the ticket (TLS 1.2) or PSK identity (TLS 1.3) of a session.
func sessionTicket(cs *tls.ClientSessionState) []byte {
	ticket, _, err := cs.ResumptionState()
	if err != nil {
		return nil
	}
	return ticket
}

// secretOffset is where SessionState.Bytes() puts the secret: u16 version, u8
// type, u16 suite, u64 created_at, then the u8 length of the secret.
const secretOffset = 14

// knobs are the misbehaviours the config key misbehave can ask for, by name.
var knobs = map[string]knob{
	// The client's cache hands out sessions whose secret has byte 0 flipped.
	"flip_secret_byte": {apply: func(name string, value interface{}, t misbehaveTarget) error {
		if err := checkCacheKnob(name, value, t); err != nil {
			return err
		}
		t.cache.tamper = flipSecretByte
		return nil
	}},
}

// flipSecretByte returns a copy of cs whose secret has its first byte flipped, so
// that the client sends a well-formed PSK with a wrong binder.
func flipSecretByte(cs *tls.ClientSessionState) (*tls.ClientSessionState, string) {
	ticket, state, err := cs.ResumptionState()
	if err != nil || state == nil {
		return cs, "tamper skipped: no resumption state"
	}
	b, err := state.Bytes()
	if err != nil || len(b) <= secretOffset {
		return cs, "tamper skipped: cannot encode session"
	}
	b[secretOffset] ^= 0x01
	altered, err := tls.ParseSessionState(b)
	if err != nil {
		return cs, "tamper skipped: " + err.Error()
	}
	out, err := tls.NewResumptionState(ticket, altered)
	if err != nil {
		return cs, "tamper skipped: " + err.Error()
	}
	return out, "secret byte 0 flipped"
}

type sessionParams struct {
	Action   string
	Endpoint string
	Data     string // base64, decoded by the action
	Cache    string
	Key      string
	Ticket   []byte
	State    []byte
}

func (p *sessionParams) read(f *fields) {
	f.str("action", &p.Action)
	f.str("endpoint", &p.Endpoint)
	f.str("data", &p.Data)
	f.str("cache", &p.Cache)
	f.str("key", &p.Key)
	f.bytes("ticket", &p.Ticket)
	f.bytes("state", &p.State)
}

// session exposes the 1.21+ session and ticket APIs on a server endpoint.
func opSession(p *peer, given object) (interface{}, error) {
	var params sessionParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	data, err := base64.StdEncoding.DecodeString(params.Data)
	if err != nil {
		return nil, fmt.Errorf("data: not base64: %v", err)
	}
	switch params.Action {
	case "export", "import":
		c, err := p.existingCache(params.Cache)
		if err != nil {
			return nil, err
		}
		if params.Action == "export" {
			return exportSession(c, params.Key)
		}
		return importSession(c, params.Key, params.Ticket, params.State), nil
	case "parse":
		// ParseSessionState then Bytes: what this release keeps of an encoding.
		state, err := tls.ParseSessionState(data)
		if err != nil {
			return map[string]interface{}{"error": err.Error()}, nil
		}
		b, err := state.Bytes()
		if err != nil {
			return map[string]interface{}{"error": err.Error()}, nil
		}
		return map[string]interface{}{"bytes": b}, nil
	case "decrypt_ticket", "encrypt_ticket":
		e, err := p.endpointNamed(params.Endpoint)
		if err != nil {
			return nil, err
		}
		if params.Action == "decrypt_ticket" {
			state, err := e.config.DecryptTicket(data, tls.ConnectionState{})
			if err != nil {
				return map[string]interface{}{"error": err.Error()}, nil
			}
			if state == nil {
				return map[string]interface{}{"bytes": nil}, nil
			}
			b, err := state.Bytes()
			if err != nil {
				return map[string]interface{}{"error": err.Error()}, nil
			}
			return map[string]interface{}{"bytes": b}, nil
		}
		state, err := tls.ParseSessionState(data)
		if err != nil {
			return map[string]interface{}{"error": err.Error()}, nil
		}
		ticket, err := e.config.EncryptTicket(tls.ConnectionState{}, state)
		if err != nil {
			return map[string]interface{}{"error": err.Error()}, nil
		}
		return map[string]interface{}{"ticket": ticket}, nil
	}
	return nil, fmt.Errorf("action: unknown %q (expected parse, decrypt_ticket or encrypt_ticket)", params.Action)
}

// exportSession serialises a cache entry the way a persistent cache would:
// ResumptionState, then SessionState.Bytes.
func exportSession(c *recordingCache, key string) (interface{}, error) {
	cs, ok := c.inner.Get(key)
	if !ok || cs == nil {
		return nil, fmt.Errorf("cache has no session for key %q", key)
	}
	ticket, state, err := cs.ResumptionState()
	if err != nil {
		return map[string]interface{}{"error": err.Error()}, nil
	}
	b, err := state.Bytes()
	if err != nil {
		return map[string]interface{}{"error": err.Error()}, nil
	}
	return map[string]interface{}{"ticket": ticket, "state": b}, nil
}

// importSession restores a serialised session into the cache with
// ParseSessionState and NewResumptionState; their error is the observation.
func importSession(c *recordingCache, key string, ticket, state []byte) interface{} {
	ss, err := tls.ParseSessionState(state)
	if err != nil {
		return map[string]interface{}{"error": err.Error()}
	}
	cs, err := tls.NewResumptionState(ticket, ss)
	if err != nil {
		return map[string]interface{}{"error": err.Error()}
	}
	c.inner.Put(key, cs)
	c.mu.Lock()
	c.keys[key] = ticketHash(ticket)
	c.mu.Unlock()
	return map[string]interface{}{"error": nil}
}

// setWrapSession makes the server's tickets the plain SessionState encoding
// (Config.WrapSession / UnwrapSession), as a shared session store would: what one
// release writes, another must parse. "plain": an empty identity is no session,
// a parse error aborts the handshake; "plain_ignore_errors": a parse error is
// (nil, nil), a full handshake; "naive": every identity goes to ParseSessionState,
// including the empty one a TLS 1.2 server passes when the client offered no ticket.
func setWrapSession(cfg *tls.Config, mode string) error {
	if mode != "plain" && mode != "plain_ignore_errors" && mode != "naive" {
		return fmt.Errorf("wrap_session: unknown mode %q (expected plain, plain_ignore_errors or naive)", mode)
	}
	cfg.WrapSession = func(_ tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		return ss.Bytes()
	}
	cfg.UnwrapSession = func(identity []byte, _ tls.ConnectionState) (*tls.SessionState, error) {
		if len(identity) == 0 && mode != "naive" {
			return nil, nil
		}
		ss, err := tls.ParseSessionState(identity)
		if err != nil && mode == "plain_ignore_errors" {
			return nil, nil
		}
		return ss, err
	}
	return nil
}
