//go:build !go1.24

package main

import "crypto/tls"

const echServer = false

func setECHKeys(cfg *tls.Config, keys []echKeyParams) error {
	return unsupportedError{"Config.EncryptedClientHelloKeys (the ECH server) was added in Go 1.24"}
}
