package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// The application data each connection exchanges after the handshake, so that
// TLS 1.3 tickets and post-handshake alerts are read.
var (
	pingData = []byte("tlsdiff-ping")
	pongData = []byte("tlsdiff-pong")
)

// recordingConn keeps every byte written to and read from the socket.
type recordingConn struct {
	net.Conn
	mu      sync.Mutex
	written bytes.Buffer
	read    bytes.Buffer
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.read.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	c.written.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

// observation is what one side saw of one connection (PROTOCOL.md; appendObservation,
// jsonwrite.go, writes it).
type observation struct {
	ConnID         string
	Role           string
	HandshakeError *string
	IOError        *string
	Received       string
	State          map[string]interface{} // left out when empty
	Written        []byte
	Read           []byte
	Keylog         string
	CacheOps       []cacheOp
	LocalPort      int // left out when 0
	RemotePort     int // left out when 0
	// ECHRetryConfigs is a client's ECHRejectionError.RetryConfigList (base64),
	// present only when Handshake returned that error.
	ECHRetryConfigs *string
}

type connParams struct {
	Listener  string
	Endpoint  string
	Port      int
	ConnID    string
	Time      int64
	TimeoutMS int
}

func (c *connParams) read(f *fields) {
	f.str("listener", &c.Listener)
	f.str("endpoint", &c.Endpoint)
	f.integer("port", &c.Port)
	f.str("conn_id", &c.ConnID)
	f.int64("time", &c.Time)
	f.integer("timeout_ms", &c.TimeoutMS)
}

func (c connParams) deadline() time.Time {
	ms := c.TimeoutMS
	if ms <= 0 {
		ms = 5000
	}
	return time.Now().Add(time.Duration(ms) * time.Millisecond)
}

func errString(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

// accept serves one connection on a listener made by listen, then closes it.
func opAccept(p *peer, given object) (interface{}, error) {
	var params connParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	p.mu.Lock()
	l, ok := p.listeners[params.Listener]
	if ok {
		delete(p.listeners, params.Listener)
	}
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no listener named %q", params.Listener)
	}
	defer l.ln.Close()
	if tcp, ok := l.ln.(*net.TCPListener); ok {
		tcp.SetDeadline(params.deadline())
	}
	raw2, err := l.ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("accept: %v", err)
	}
	e := l.endpoint
	e.setClock(params.Time)
	e.takeKeylog()
	rc := &recordingConn{Conn: raw2}
	rc.SetDeadline(params.deadline())
	conn := tls.Server(rc, e.config)
	obs := &observation{ConnID: params.ConnID, Role: "server"}
	obs.HandshakeError = errString(conn.Handshake())
	if obs.HandshakeError == nil {
		got := make([]byte, len(pingData))
		_, err := io.ReadFull(conn, got)
		obs.Received = string(got)
		if err == nil {
			_, err = conn.Write(pongData)
		}
		if err == nil {
			// Read to the client's close_notify, so both sides record the same end.
			var rest [1]byte
			_, err = conn.Read(rest[:])
			if errors.Is(err, io.EOF) {
				err = nil
			} else if err == nil {
				err = errors.New("unexpected application data after ping")
			}
		}
		obs.IOError = errString(err)
	}
	obs.State = connectionState(conn)
	closeConn(obs, conn, rc)
	finish(obs, rc, e)
	return obs, nil
}

// connect dials 127.0.0.1:port as a client endpoint and runs one connection.
func opConnect(p *peer, given object) (interface{}, error) {
	var params connParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	e, err := p.endpointNamed(params.Endpoint)
	if err != nil {
		return nil, err
	}
	if e.role != "client" {
		return nil, fmt.Errorf("endpoint %q is a %s, not a client", params.Endpoint, e.role)
	}
	e.setClock(params.Time)
	e.takeKeylog()
	if e.cache != nil {
		e.cache.takeOps()
	}
	dialer := net.Dialer{Deadline: params.deadline()}
	raw2, err := dialer.Dial("tcp", "127.0.0.1:"+strconv.Itoa(params.Port))
	if err != nil {
		return nil, fmt.Errorf("dial: %v", err)
	}
	rc := &recordingConn{Conn: raw2}
	rc.SetDeadline(params.deadline())
	conn := tls.Client(rc, e.config)
	obs := &observation{ConnID: params.ConnID, Role: "client"}
	herr := conn.Handshake()
	obs.HandshakeError = errString(herr)
	obs.ECHRetryConfigs = echRetryConfigs(herr)
	if obs.HandshakeError == nil {
		_, err := conn.Write(pingData)
		if err == nil {
			got := make([]byte, len(pongData))
			_, err = io.ReadFull(conn, got)
			obs.Received = string(got)
		}
		obs.IOError = errString(err)
	}
	obs.State = connectionState(conn)
	closeConn(obs, conn, rc)
	finish(obs, rc, e)
	return obs, nil
}

// closeConn ends a connection so that both recordings are the same on every run.
// Without an error: Close, which sends close_notify. After an error: no
// close_notify; half-close, then read (and record) until the peer hangs up. So
// the read recording holds everything the peer sent, not whatever the kernel had
// delivered when this side gave up, and neither side's close resets the other.
func closeConn(obs *observation, conn *tls.Conn, rc *recordingConn) {
	if obs.HandshakeError == nil && obs.IOError == nil {
		conn.Close()
		return
	}
	if tcp, ok := rc.Conn.(*net.TCPConn); ok {
		tcp.CloseWrite()
	}
	io.Copy(io.Discard, rc)
	rc.Conn.Close()
}

func finish(obs *observation, rc *recordingConn, e *endpoint) {
	rc.mu.Lock()
	obs.Written = append([]byte{}, rc.written.Bytes()...)
	obs.Read = append([]byte{}, rc.read.Bytes()...)
	rc.mu.Unlock()
	obs.Keylog = e.takeKeylog()
	// The ports, so a capture made from the recording shows the connection as it was.
	if a, ok := rc.LocalAddr().(*net.TCPAddr); ok {
		obs.LocalPort = a.Port
	}
	if a, ok := rc.RemoteAddr().(*net.TCPAddr); ok {
		obs.RemotePort = a.Port
	}
	obs.CacheOps = []cacheOp{}
	if e.cache != nil {
		obs.CacheOps = e.cache.takeOps()
	}
}
