package main

import (
	"crypto/tls"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// curveIDs names every group tlsdiff knows, whatever this release implements:
// an ID the release lacks is passed to Config.CurvePreferences as it is, so a
// case observes what that release does with it.
var curveIDs = map[string]tls.CurveID{
	"P256":                  23,
	"P384":                  24,
	"P521":                  25,
	"X25519":                29,
	"MLKEM1024":             514,
	"SecP256r1MLKEM768":     4587,
	"X25519MLKEM768":        4588,
	"SecP384r1MLKEM1024":    4589,
	"X25519Kyber768Draft00": 0x6399,
}

// groupNames lists, sorted, the group names a case may use (hello).
func groupNames() []string {
	names := []string{}
	for name := range curveIDs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func curveByName(name string) (tls.CurveID, bool) {
	if id, ok := curveIDs[name]; ok {
		return id, true
	}
	if n, err := strconv.ParseUint(strings.TrimPrefix(name, "0x"), 16, 16); err == nil && strings.HasPrefix(name, "0x") {
		return tls.CurveID(n), true
	}
	return 0, false
}

func curveName(id tls.CurveID) string {
	if id == 0 {
		return ""
	}
	for name, v := range curveIDs {
		if v == id {
			return name
		}
	}
	return fmt.Sprintf("0x%04x", uint16(id))
}
