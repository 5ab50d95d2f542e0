//go:build !go1.21

package main

// opParseSessions: 1.19 and 1.20 have no SessionState to parse into (parse_sessions_go121.go).
func opParseSessions(p *peer, given object) (interface{}, error) {
	return nil, unsupportedError{"parse_sessions needs ParseSessionState and Config.DecryptTicket, added in Go 1.21"}
}
