// Command go-peer drives crypto/tls on command for tlsdiff.
//
// It reads JSON requests, one per line, on stdin and writes one JSON response per
// request on stdout (PROTOCOL.md). With -listen ADDR it serves the same protocol on
// a TCP address instead, one session per connection (listen.go). Requests run
// concurrently, so a server can be accepting while the same process is asked to
// connect as a client. Everything it does on the network stays on 127.0.0.1.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
)

// request is one line of the control protocol (readRequest, jsonread.go).
type request struct {
	ID     int64
	Op     string
	Params object // nil when the line has none
}

// response answers exactly one request, carrying its id (appendResponse, jsonwrite.go:
// id and ok always, each other member only when set).
type response struct {
	ID          int64
	OK          bool
	Result      interface{}
	Error       string
	Unsupported string
}

// unsupportedError says the request cannot be honoured on this Go release.
type unsupportedError struct{ reason string }

func (e unsupportedError) Error() string { return e.reason }

type handler func(p *peer, params object) (interface{}, error)

var handlers = map[string]handler{
	"hello":           opHello,
	"configure":       opConfigure,
	"clone":           opClone,
	"set_ticket_keys": opSetTicketKeys,
	"listen":          opListen,
	"accept":          opAccept,
	"connect":         opConnect,
	"cache_dump":      opCacheDump,
	"drop":            opDrop,
	"session":         opSession,
	"parse_sessions":  opParseSessions,
	"forget_session":  opForgetSession,
}

func main() {
	listen := flag.String("listen", "", "serve the control protocol on this loopback TCP address, one session per "+
		"connection (PROTOCOL.md, Transports), instead of on stdin/stdout")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "go-peer: unexpected argument %q; expected no arguments, or -listen ADDR\n", flag.Arg(0))
		os.Exit(2)
	}
	if *listen != "" {
		os.Exit(serveTCP(*listen))
	}
	in, out := controlStreams()
	serve(newPeer(), in, out)
}

// lineBuffers hold response lines being written: an observation's line is a few KB,
// which a buffer made for each response would grow to by copying, again and again.
var lineBuffers = sync.Pool{New: func() interface{} { b := make([]byte, 0, 8<<10); return &b }}

// maxPooledLine: a longer line's buffer (a cache dump, a batch's many responses) is
// left to the collector rather than kept.
const maxPooledLine = 256 << 10

// serve speaks the control protocol on one stream until it ends or asks for
// shutdown, then waits for the requests still running.
func serve(p *peer, src io.Reader, dst io.Writer) {
	out := bufio.NewWriter(dst)
	var outMu sync.Mutex
	write := func(r response) {
		buf := lineBuffers.Get().(*[]byte)
		line, err := appendResponse((*buf)[:0], r)
		if err != nil {
			line, _ = appendResponse(line[:0], response{ID: r.ID, Error: "go-peer: cannot encode response: " + err.Error()})
		}
		line = append(line, '\n')
		outMu.Lock()
		out.Write(line)
		out.Flush()
		outMu.Unlock()
		if cap(line) <= maxPooledLine {
			*buf = line
			lineBuffers.Put(buf)
		}
	}

	// Requests run concurrently, each in a goroutine kept for a later request once it is
	// done: a handshake grows a new goroutine's stack several times, copying it each
	// time (5% of the peers' CPU in a default run, by pprof). There are never more
	// goroutines than requests ever in flight at once; they end with the session.
	var wg sync.WaitGroup
	idle := make(chan request)
	serveFrom := func(req request) {
		for more := true; more; req, more = <-idle {
			write(run(p, handlers[req.Op], req))
			wg.Done()
		}
	}
	in := bufio.NewScanner(src)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		req, err := readRequest(in.Bytes())
		if err != nil {
			write(response{ID: req.ID, Error: "go-peer: malformed request: " + err.Error()})
			continue
		}
		if req.Op == "shutdown" {
			break
		}
		if _, ok := handlers[req.Op]; !ok {
			write(response{ID: req.ID, Error: fmt.Sprintf("go-peer: unknown op %q", req.Op)})
			continue
		}
		wg.Add(1)
		select {
		case idle <- req: // a goroutine that served an earlier request takes it
		default:
			go serveFrom(req)
		}
	}
	close(idle)
	wg.Wait()
}

// run calls a handler and turns its outcome, panics included, into a response.
func run(p *peer, h handler, req request) (resp response) {
	resp.ID = req.ID
	defer func() {
		if r := recover(); r != nil {
			resp = response{ID: req.ID, Error: fmt.Sprintf("go-peer: panic in %s: %v\n%s", req.Op, r, debug.Stack())}
		}
	}()
	result, err := h(p, req.Params)
	switch e := err.(type) {
	case nil:
		return response{ID: req.ID, OK: true, Result: result}
	case unsupportedError:
		return response{ID: req.ID, Unsupported: e.reason}
	default:
		return response{ID: req.ID, Error: err.Error()}
	}
}
