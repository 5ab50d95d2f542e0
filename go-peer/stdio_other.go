//go:build !unix

package main

import (
	"io"
	"os"
)

// controlStreams: stdin and stdout as they are (stdio_unix.go says why pipes differ).
func controlStreams() (io.Reader, io.Writer) { return os.Stdin, os.Stdout }
