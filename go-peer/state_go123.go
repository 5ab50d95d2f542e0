//go:build go1.23 && !go1.25

package main

import "crypto/tls"

func extraStateFields() []string { return []string{"ECHAccepted"} }

func addExtraState(m map[string]interface{}, cs *tls.ConnectionState) {
	m["ECHAccepted"] = cs.ECHAccepted
}
