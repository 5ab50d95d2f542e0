//go:build go1.25 && !go1.26

package main

import "crypto/tls"

func extraStateFields() []string { return []string{"ECHAccepted", "CurveID"} }

func addExtraState(m map[string]interface{}, cs *tls.ConnectionState) {
	m["ECHAccepted"] = cs.ECHAccepted
	m["CurveID"] = curveName(cs.CurveID)
}
