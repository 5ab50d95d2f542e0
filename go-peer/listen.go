package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

// serveTCP serves the control protocol on addr (-listen): every accepted connection
// is a session with a peer of its own, as a fresh process would be on stdin/stdout,
// so a harness that drops a hung connection and dials again starts clean. It
// returns only when it cannot listen; the exit status.
func serveTCP(addr string) int {
	if err := loopbackOnly(addr); err != nil {
		fmt.Fprintf(os.Stderr, "go-peer: -listen %s: %v\n", addr, err)
		return 2
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-peer: -listen %s: %v\n", addr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "go-peer: %s serving the control protocol on %s\n", goRelease(), ln.Addr())
	for n := 1; ; n++ {
		conn, err := ln.Accept()
		if err != nil {
			// Out of file descriptors and the like: wait and go on, the listener is ours.
			fmt.Fprintf(os.Stderr, "go-peer: accept: %v\n", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go session(n, conn)
	}
}

// loopbackOnly refuses a control address off the loopback interface: the protocol
// has no authentication, and the TLS connections it drives stay on 127.0.0.1, so
// the harness has to share this peer's 127.0.0.1 anyway.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%v; expected HOST:PORT such as 127.0.0.1:7127", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q is not a loopback address; expected 127.0.0.1:PORT (the protocol has no "+
			"authentication and the TLS traffic stays on 127.0.0.1)", host)
	}
	return nil
}

// session serves one connection, then forgets everything it made.
func session(n int, conn net.Conn) {
	fmt.Fprintf(os.Stderr, "go-peer: session %d from %s: open\n", n, conn.RemoteAddr())
	p := newPeer()
	serve(p, conn, conn)
	conn.Close()
	fmt.Fprintf(os.Stderr, "go-peer: session %d: closed, %d objects dropped\n", n, p.dropAll())
}

// dropAll forgets every object of a session and closes its listeners.
func (p *peer) dropAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.endpoints) + len(p.caches) + len(p.listeners)
	for _, l := range p.listeners {
		l.ln.Close()
	}
	p.endpoints = map[string]*endpoint{}
	p.caches = map[string]*recordingCache{}
	p.listeners = map[string]*listener{}
	return n
}
