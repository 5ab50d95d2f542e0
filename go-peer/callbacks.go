package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Callbacks a case can install, and what a clone may change: the shapes of the
// configs that go.dev/issue/77113, 77217 and 31641 are about, and a client
// certificate callback that ignores what the server asks for.

// setRejectingCallback installs a verification callback that refuses every
// peer, so a case sees whether the handshake calls it (31641: VerifyPeerCertificate
// is not called on resumed connections, VerifyConnection is).
func setRejectingCallback(cfg *tls.Config, name string) error {
	switch name {
	case "":
		cfg.VerifyPeerCertificate, cfg.VerifyConnection = nil, nil
	case "VerifyPeerCertificate":
		cfg.VerifyConnection = nil
		cfg.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error {
			return errors.New("tlsdiff: VerifyPeerCertificate rejects every peer")
		}
	case "VerifyConnection":
		cfg.VerifyPeerCertificate = nil
		cfg.VerifyConnection = func(tls.ConnectionState) error {
			return errors.New("tlsdiff: VerifyConnection rejects every connection")
		}
	default:
		return fmt.Errorf("reject_by_callback: unknown callback %q (expected VerifyPeerCertificate or VerifyConnection)", name)
	}
	return nil
}

// setClientCertificateCallback installs, for "always", a GetClientCertificate that
// returns the client's configured certificate whatever the CertificateRequest
// names. Without it crypto/tls picks the first of Config.Certificates that
// CertificateRequestInfo.SupportsCertificate accepts (the certificate_authorities
// and signature algorithms the server named), and sends an empty Certificate
// when none fits.
func setClientCertificateCallback(cfg *tls.Config, role, name string) error {
	switch name {
	case "":
		return nil
	case "always":
		if role != "client" {
			return fmt.Errorf("get_client_certificate: only a client has GetClientCertificate")
		}
		if len(cfg.Certificates) == 0 {
			return fmt.Errorf("get_client_certificate: always needs a certificate to return (certificates)")
		}
		cert := cfg.Certificates[0]
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		}
		return nil
	default:
		return fmt.Errorf("get_client_certificate: unknown value %q (expected always)", name)
	}
}

// setConfigForClient makes the server's GetConfigForClient return a fresh
// Config.Clone of the named server's live config at every handshake, as a
// virtual-host server does. The clone keeps the front endpoint's clock and key
// log, so the connection is timed and decrypted like any other of the front.
func (p *peer) setConfigForClient(front *endpoint, target string) {
	front.configForClient = target
	if target == "" {
		front.config.GetConfigForClient = nil
		return
	}
	front.config.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		t, err := p.endpointNamed(target)
		if err != nil {
			return nil, err
		}
		cfg := t.config.Clone()
		cfg.Time = front.clock
		cfg.KeyLogWriter = front
		return cfg, nil
	}
}

// cloneOverrides are the fields a clone step may set on the new config
// (Config.Clone, then the application changes them).
var cloneOverrides = map[string]func(p *peer, e *endpoint, value interface{}) error{
	"client_auth": func(_ *peer, e *endpoint, value interface{}) error {
		name, err := asString(value)
		if err != nil {
			return err
		}
		auth, ok := clientAuthByName[name]
		if !ok {
			return fmt.Errorf("unknown value %q", name)
		}
		e.config.ClientAuth = auth
		return nil
	},
	"client_cas": func(_ *peer, e *endpoint, value interface{}) error {
		pems, err := asStrings(value)
		if err != nil {
			return err
		}
		pool, err := certPool("client_cas", pems)
		e.config.ClientCAs = pool
		return err
	},
	"config_for_client": func(p *peer, e *endpoint, value interface{}) error {
		target, err := asString(value)
		if err != nil {
			return err
		}
		p.setConfigForClient(e, target)
		return nil
	},
	"reject_by_callback": func(_ *peer, e *endpoint, value interface{}) error {
		name, err := asString(value)
		if err != nil {
			return err
		}
		return setRejectingCallback(e.config, name)
	},
}

// applyCloneOverrides sets, in name order, the fields a clone step names.
func (p *peer) applyCloneOverrides(e *endpoint, set object) error {
	names := make([]string, 0, len(set))
	for name := range set {
		if _, ok := cloneOverrides[name]; !ok {
			known := make([]string, 0, len(cloneOverrides))
			for k := range cloneOverrides {
				known = append(known, k)
			}
			sort.Strings(known)
			return fmt.Errorf("set: a clone cannot change %q; expected one of %s", name, strings.Join(known, ", "))
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := cloneOverrides[name](p, e, set[name]); err != nil {
			return fmt.Errorf("set.%s: %v", name, err)
		}
	}
	return nil
}
