package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// selfbench measures the floor: connections between two endpoints configured as
// the caller asks, run inside this one process with no harness in between. It
// goes through the very handlers the harness calls (configure, listen, accept,
// connect, drop), so each connection has the recordingConn, the key log, the
// recording cache, the ping/pong exchange and the ConnectionState report; only
// the JSON lines to and from the harness are missing.
func init() {
	handlers["selfbench"] = opSelfbench
}

// selfbenchEpoch is the case clock's epoch (2026-01-01T00:00:00Z), the time the
// harness gives connections; the harness's certificates are valid around it.
const selfbenchEpoch = 1767225600

// selfbenchMaxCount bounds one request, so a typo cannot keep a peer busy for hours.
const selfbenchMaxCount = 1000000

type selfbenchParams struct {
	Count     int          `json:"count"`
	Resume    bool         `json:"resume"`
	Server    configParams `json:"server"`
	Client    configParams `json:"client"`
	Time      int64        `json:"time"`
	TimeoutMS int          `json:"timeout_ms"`
}

type selfbenchResult struct {
	Count               int     `json:"count"`
	Seconds             float64 `json:"seconds"`
	HandshakesPerSecond float64 `json:"handshakes_per_second"`
	Resumed             int     `json:"resumed"`
}

// selfbenchRuns keeps the object names of concurrent selfbench requests apart.
var selfbenchRuns int64

func opSelfbench(p *peer, raw json.RawMessage) (interface{}, error) {
	var params selfbenchParams
	if err := decodeParams(raw, &params); err != nil {
		return nil, err
	}
	if params.Count < 1 || params.Count > selfbenchMaxCount {
		return nil, fmt.Errorf("count: want 1 .. %d, got %d", selfbenchMaxCount, params.Count)
	}
	if len(params.Server.Certificates) == 0 {
		return nil, fmt.Errorf("server.certificates: the server endpoint needs a certificate")
	}
	if params.Time == 0 {
		params.Time = selfbenchEpoch
	}
	if params.TimeoutMS <= 0 {
		params.TimeoutMS = 5000
	}

	prefix := fmt.Sprintf("selfbench#%d#", atomic.AddInt64(&selfbenchRuns, 1))
	defer callOp(p, opDrop, dropParams{Prefix: prefix})

	// The endpoints are the caller's configs, with this request's names and seeds.
	params.Server.RandSeed = prefix + "server"
	params.Client.RandSeed = prefix + "client"
	params.Client.Cache = ""
	if params.Resume {
		params.Client.Cache = prefix + "cache"
	}
	server := configureParams{Name: prefix + "server", Role: "server", Config: params.Server}
	client := configureParams{Name: prefix + "client", Role: "client", Config: params.Client}
	if _, err := callOp(p, opConfigure, server); err != nil {
		return nil, fmt.Errorf("server endpoint: %v", err)
	}
	if _, err := callOp(p, opConfigure, client); err != nil {
		return nil, fmt.Errorf("client endpoint: %v", err)
	}

	// With resume, one connection before the clock starts fills the client's
	// cache, so every timed connection resumes.
	if params.Resume {
		if _, err := selfbenchConnection(p, prefix, -1, params); err != nil {
			return nil, fmt.Errorf("the connection that fills the cache: %v", err)
		}
	}
	resumed := 0
	started := time.Now()
	for i := 0; i < params.Count; i++ {
		didResume, err := selfbenchConnection(p, prefix, i, params)
		if err != nil {
			return nil, fmt.Errorf("connection %d of %d: %v", i+1, params.Count, err)
		}
		if didResume {
			resumed++
		}
	}
	seconds := time.Since(started).Seconds()
	if params.Resume && resumed != params.Count {
		return nil, fmt.Errorf("resume: %d of the %d connections resumed", resumed, params.Count)
	}
	rate := 0.0
	if seconds > 0 {
		rate = float64(params.Count) / seconds
	}
	return selfbenchResult{Count: params.Count, Seconds: seconds, HandshakesPerSecond: rate, Resumed: resumed}, nil
}

// selfbenchConnection runs one connection the way the harness does: listen, then
// accept and connect in flight at once. It reports whether the client resumed.
func selfbenchConnection(p *peer, prefix string, i int, params selfbenchParams) (bool, error) {
	listener := prefix + "listener" + strconv.Itoa(i)
	res, err := callOp(p, opListen, listenParams{Name: listener, Endpoint: prefix + "server"})
	if err != nil {
		return false, fmt.Errorf("listen: %v", err)
	}
	port := res.(map[string]interface{})["port"].(int)
	connID := prefix + strconv.Itoa(i)

	var wg sync.WaitGroup
	var serverRes interface{}
	var serverErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		serverRes, serverErr = callOp(p, opAccept, connParams{
			Listener: listener, ConnID: connID, Time: params.Time, TimeoutMS: params.TimeoutMS,
		})
	}()
	clientRes, clientErr := callOp(p, opConnect, connParams{
		Endpoint: prefix + "client", Port: port, ConnID: connID, Time: params.Time, TimeoutMS: params.TimeoutMS,
	})
	wg.Wait()

	if clientErr != nil {
		return false, fmt.Errorf("client: %v", clientErr)
	}
	if serverErr != nil {
		return false, fmt.Errorf("server: %v", serverErr)
	}
	clientObs, serverObs := clientRes.(*observation), serverRes.(*observation)
	for _, obs := range []*observation{clientObs, serverObs} {
		if obs.HandshakeError != nil {
			return false, fmt.Errorf("%s handshake: %s", obs.Role, *obs.HandshakeError)
		}
		if obs.IOError != nil {
			return false, fmt.Errorf("%s data exchange: %s", obs.Role, *obs.IOError)
		}
	}
	didResume, _ := clientObs.State["DidResume"].(bool)
	return didResume, nil
}

// callOp calls a handler with params encoded as the harness would send them.
func callOp(p *peer, h handler, params interface{}) (interface{}, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	return h(p, raw)
}
