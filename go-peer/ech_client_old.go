//go:build !go1.23

package main

import "crypto/tls"

const echClient = false

func setECHConfigList(cfg *tls.Config, list []byte) error {
	return unsupportedError{"Config.EncryptedClientHelloConfigList (the ECH client) was added in Go 1.23"}
}

// echRetryConfigs: no handshake of this release returns an ECHRejectionError.
func echRetryConfigs(err error) *string { return nil }
