//go:build go1.23

package main

import "crypto/tls"

func init() {
	registerStateField(23, "ECHAccepted", func(cs *tls.ConnectionState) interface{} {
		return cs.ECHAccepted
	})
}
