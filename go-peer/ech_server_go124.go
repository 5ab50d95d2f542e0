//go:build go1.24

package main

import "crypto/tls"

// echServer says whether this release has an ECH server (hello's apis).
const echServer = true

// setECHKeys gives a server the ECH keys it decrypts with and offers as retry
// configs (Config.EncryptedClientHelloKeys).
func setECHKeys(cfg *tls.Config, keys []echKeyParams) error {
	for _, k := range keys {
		cfg.EncryptedClientHelloKeys = append(cfg.EncryptedClientHelloKeys, tls.EncryptedClientHelloKey{
			Config: k.Config, PrivateKey: k.PrivateKey, SendAsRetry: k.SendAsRetry,
		})
	}
	return nil
}
