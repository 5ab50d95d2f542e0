package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
)

// ekmLabel is the fixed exporter label every connection is asked for.
const ekmLabel = "EXPORTER-tlsdiff"

var versionNames = map[uint16]string{
	tls.VersionTLS10: "TLS 1.0", tls.VersionTLS11: "TLS 1.1",
	tls.VersionTLS12: "TLS 1.2", tls.VersionTLS13: "TLS 1.3",
}

func versionName(v uint16) string {
	if name, ok := versionNames[v]; ok {
		return name
	}
	return fmt.Sprintf("0x%04x", v)
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func fingerprints(certs []*x509.Certificate) []string {
	out := []string{}
	for _, c := range certs {
		out = append(out, fingerprint(c.Raw))
	}
	return out
}

// baseStateFields are the ConnectionState fields every supported release has.
var baseStateFields = []string{
	"Version", "HandshakeComplete", "DidResume", "CipherSuite", "NegotiatedProtocol",
	"NegotiatedProtocolIsMutual", "ServerName", "PeerCertificates", "VerifiedChains",
	"SignedCertificateTimestamps", "OCSPResponse", "TLSUnique", "ExportKeyingMaterial",
}

func connectionStateFields() []string {
	return append(append([]string{}, baseStateFields...), extraStateFields()...)
}

// connectionState renders every ConnectionState field this release has. Values
// that differ per connection (TLSUnique, exporter output) are sent in full; the
// harness masks them by name.
func connectionState(conn *tls.Conn) map[string]interface{} {
	cs := conn.ConnectionState()
	chains := [][]string{}
	for _, chain := range cs.VerifiedChains {
		chains = append(chains, fingerprints(chain))
	}
	scts := []string{}
	for _, sct := range cs.SignedCertificateTimestamps {
		scts = append(scts, hex.EncodeToString(sct))
	}
	m := map[string]interface{}{
		"Version":                     versionName(cs.Version),
		"HandshakeComplete":           cs.HandshakeComplete,
		"DidResume":                   cs.DidResume,
		"CipherSuite":                 cipherSuiteName(cs.CipherSuite),
		"NegotiatedProtocol":          cs.NegotiatedProtocol,
		"NegotiatedProtocolIsMutual":  cs.NegotiatedProtocolIsMutual,
		"ServerName":                  cs.ServerName,
		"PeerCertificates":            fingerprints(cs.PeerCertificates),
		"VerifiedChains":              chains,
		"SignedCertificateTimestamps": scts,
		"OCSPResponse":                hex.EncodeToString(cs.OCSPResponse),
		"TLSUnique":                   hex.EncodeToString(cs.TLSUnique),
	}
	if !cs.HandshakeComplete {
		m["ExportKeyingMaterial"] = map[string]interface{}{"error": "handshake not complete"}
	} else if ekm, err := cs.ExportKeyingMaterial(ekmLabel, nil, 32); err != nil {
		m["ExportKeyingMaterial"] = map[string]interface{}{"error": err.Error()}
	} else {
		m["ExportKeyingMaterial"] = map[string]interface{}{"value": hex.EncodeToString(ekm)}
	}
	addExtraState(m, &cs)
	return m
}

func cipherSuiteName(id uint16) string {
	if id == 0 {
		return ""
	}
	return tls.CipherSuiteName(id)
}
