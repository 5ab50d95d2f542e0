//go:build go1.27

package main

import "crypto/tls"

// LocalCertificate is null when this side sent no certificate, else the SHA-256
// fingerprints of the chain it sent.
func init() {
	registerStateField(27, "LocalCertificate", func(cs *tls.ConnectionState) interface{} {
		var local []string
		if cs.LocalCertificate != nil {
			local = []string{}
			for _, der := range cs.LocalCertificate {
				local = append(local, fingerprint(der))
			}
		}
		return local
	})
}
