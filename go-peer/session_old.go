//go:build !go1.21

package main

import (
	"crypto/tls"
	"reflect"
)

func apis() map[string]interface{} {
	return map[string]interface{}{"session_state": false, "wrap_session": false, "encrypt_ticket": false}
}

// sessionTicket reads the unexported ticket of a pre-1.21 session: these releases
// have no API for it, and the ticket hash is only used to name the session.
func sessionTicket(cs *tls.ClientSessionState) []byte {
	f := reflect.ValueOf(cs).Elem().FieldByName("sessionTicket")
	if !f.IsValid() || f.Kind() != reflect.Slice {
		return nil
	}
	return f.Bytes()
}

// knobs are the misbehaviours the config key misbehave can ask for, by name:
// this release knows them but can commit none (session_go121.go has them).
var knobs = map[string]knob{
	"flip_secret_byte": {apply: checkCacheKnob, unsupported: "flip_secret_byte needs SessionState and NewResumptionState, added in Go 1.21"},
}

func opSession(p *peer, given object) (interface{}, error) {
	return nil, unsupportedError{"the session APIs (SessionState.Bytes, ParseSessionState, NewResumptionState, EncryptTicket, DecryptTicket) were added in Go 1.21"}
}

func setWrapSession(cfg *tls.Config, mode string) error {
	return unsupportedError{"Config.WrapSession and UnwrapSession were added in Go 1.21"}
}
