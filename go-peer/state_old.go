//go:build !go1.23

package main

import "crypto/tls"

func extraStateFields() []string { return nil }

func addExtraState(m map[string]interface{}, cs *tls.ConnectionState) {}
