//go:build go1.25

package main

import "crypto/tls"

func init() {
	registerStateField(25, "CurveID", func(cs *tls.ConnectionState) interface{} {
		return curveName(cs.CurveID)
	})
}
