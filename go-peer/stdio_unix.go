//go:build unix

package main

import (
	"io"
	"os"
	"syscall"
)

// controlStreams gives the control protocol's stdin and stdout, each served by the
// runtime's poller when it is a pipe (as tlsdiff starts a peer). A read blocked on
// a pipe holds an OS thread in a system call, and with one P (GOMAXPROCS=1) the
// runtime hands the P to another thread and back around it: about a tenth of the
// peers' CPU in a default run, and a quarter of the run's context switches.
func controlStreams() (io.Reader, io.Writer) {
	return pollable(0, "stdin", os.Stdin), pollable(1, "stdout", os.Stdout)
}

// pollable is fd opened anew for the poller if it is a pipe that could be made
// non-blocking, else plain as it was. Only pipes: O_NONBLOCK on a terminal would
// stay set for the shell that shares it.
func pollable(fd int, name string, plain *os.File) *os.File {
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO || syscall.SetNonblock(fd, true) != nil {
		return plain
	}
	return os.NewFile(uintptr(fd), name)
}
