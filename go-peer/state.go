package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"sort"
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

// baseStateFields are the ConnectionState fields every supported release
// (Go 1.19 and later) has, in the order hello lists them.
var baseStateFields = []string{
	"Version", "HandshakeComplete", "DidResume", "CipherSuite", "NegotiatedProtocol",
	"NegotiatedProtocolIsMutual", "ServerName", "PeerCertificates", "VerifiedChains",
	"SignedCertificateTimestamps", "OCSPResponse", "TLSUnique", "ExportKeyingMaterial",
}

// A field added to ConnectionState after Go 1.19 lives in a file of its own,
// state_<field>_go1NN.go with the constraint //go:build go1.NN, whose init calls
// registerStateField. Supporting a field of a future release means adding one
// such file and nothing else.

// stateField is a ConnectionState field that not every supported release has.
type stateField struct {
	since  int // the Go 1.N release that added the field
	seq    int // registration order, which breaks ties between fields of one release
	name   string
	render func(cs *tls.ConnectionState) interface{}
}

// stateFields are the registered fields, kept sorted by since, then seq: hello
// lists them and connectionState renders them in that order, after the base
// fields, whatever order the files' init functions ran in.
var stateFields []stateField

// registerStateField adds a field that Go 1.since added: render turns its
// value into what the observation reports under name.
func registerStateField(since int, name string, render func(cs *tls.ConnectionState) interface{}) {
	for _, f := range baseStateFields {
		if f == name {
			panic("go-peer: state field " + name + " is a base field")
		}
	}
	for _, f := range stateFields {
		if f.name == name {
			panic("go-peer: state field " + name + " registered twice")
		}
	}
	stateFields = append(stateFields, stateField{since: since, seq: len(stateFields), name: name, render: render})
	sort.Slice(stateFields, func(i, j int) bool {
		if stateFields[i].since != stateFields[j].since {
			return stateFields[i].since < stateFields[j].since
		}
		return stateFields[i].seq < stateFields[j].seq
	})
}

// connectionStateFields lists the ConnectionState fields this release has.
func connectionStateFields() []string {
	out := append([]string{}, baseStateFields...)
	for _, f := range stateFields {
		out = append(out, f.name)
	}
	return out
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
	for _, f := range stateFields {
		m[f.name] = f.render(&cs)
	}
	return m
}

func cipherSuiteName(id uint16) string {
	if id == 0 {
		return ""
	}
	return tls.CipherSuiteName(id)
}
