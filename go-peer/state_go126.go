//go:build go1.26 && !go1.27

package main

import "crypto/tls"

func extraStateFields() []string {
	return []string{"ECHAccepted", "CurveID", "HelloRetryRequest"}
}

func addExtraState(m map[string]interface{}, cs *tls.ConnectionState) {
	m["ECHAccepted"] = cs.ECHAccepted
	m["CurveID"] = curveName(cs.CurveID)
	m["HelloRetryRequest"] = cs.HelloRetryRequest
}
