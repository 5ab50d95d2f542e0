package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sync"
)

var binaryDigest struct {
	once sync.Once
	hex  string
}

// binarySHA256 is the SHA-256 of the running executable, hex, or "" when it cannot
// be read: hello reports it so a report names exactly the binary that answered.
// /proc/self/exe first: it is the running file even if its path was rebuilt since.
func binarySHA256() string {
	binaryDigest.once.Do(func() {
		f, err := os.Open("/proc/self/exe")
		if err != nil {
			path, perr := os.Executable()
			if perr != nil {
				return
			}
			if f, err = os.Open(path); err != nil {
				return
			}
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return
		}
		binaryDigest.hex = hex.EncodeToString(h.Sum(nil))
	})
	return binaryDigest.hex
}
