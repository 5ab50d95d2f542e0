//go:build go1.26

package main

import "crypto/tls"

func init() {
	registerStateField(26, "HelloRetryRequest", func(cs *tls.ConnectionState) interface{} {
		return cs.HelloRetryRequest
	})
}
