//go:build unix

package main

import (
	"io"
	"os"
	"syscall"
)

// controlStreams gives the control protocol's stdin and stdout, served by the
// runtime's poller when both are pipes (as tlsdiff starts a peer). A read blocked
// on a pipe holds an OS thread in a system call, and with one P (GOMAXPROCS=1) the
// runtime hands the P to another thread and back around it: about a tenth of
// the peers' CPU in a default run, and a quarter of the run's context switches.
// Only pipes: O_NONBLOCK on a terminal would stay set for the shell that shares it.
func controlStreams() (io.Reader, io.Writer) {
	if !isPipe(0) || !isPipe(1) || syscall.SetNonblock(0, true) != nil || syscall.SetNonblock(1, true) != nil {
		return os.Stdin, os.Stdout
	}
	return os.NewFile(0, "stdin"), os.NewFile(1, "stdout")
}

func isPipe(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFIFO
}
