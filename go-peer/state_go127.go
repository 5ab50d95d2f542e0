//go:build go1.27

package main

import "crypto/tls"

func extraStateFields() []string {
	return []string{"ECHAccepted", "CurveID", "HelloRetryRequest", "LocalCertificate"}
}

func addExtraState(m map[string]interface{}, cs *tls.ConnectionState) {
	m["ECHAccepted"] = cs.ECHAccepted
	m["CurveID"] = curveName(cs.CurveID)
	m["HelloRetryRequest"] = cs.HelloRetryRequest
	var local []string
	if cs.LocalCertificate != nil {
		local = []string{}
		for _, der := range cs.LocalCertificate {
			local = append(local, fingerprint(der))
		}
	}
	m["LocalCertificate"] = local
}
