//go:build go1.23

package main

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
)

// echClient says whether this release has an ECH client (hello's apis).
const echClient = true

// setECHConfigList makes a client offer Encrypted Client Hello with the list.
func setECHConfigList(cfg *tls.Config, list []byte) error {
	cfg.EncryptedClientHelloConfigList = list
	return nil
}

// echRetryConfigs is the RetryConfigList of the ECHRejectionError a client's
// handshake returned, base64 as the observation carries it; nil when the error
// is another one (or none), "" when the server sent no retry configs.
func echRetryConfigs(err error) *string {
	var rejection *tls.ECHRejectionError
	if !errors.As(err, &rejection) {
		return nil
	}
	s := base64.StdEncoding.EncodeToString(rejection.RetryConfigList)
	return &s
}
