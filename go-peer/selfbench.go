package main

import (
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
	Count     int
	Resume    bool
	Server    object // each endpoint's config, passed on to configure as given
	Client    object
	Time      int64
	TimeoutMS int
}

func (p *selfbenchParams) read(f *fields) {
	f.integer("count", &p.Count)
	f.boolean("resume", &p.Resume)
	f.object("server", &p.Server)
	f.object("client", &p.Client)
	f.int64("time", &p.Time)
	f.integer("timeout_ms", &p.TimeoutMS)
}

// selfbenchRuns keeps the object names of concurrent selfbench requests apart.
var selfbenchRuns int64

func opSelfbench(p *peer, given object) (interface{}, error) {
	var params selfbenchParams
	var server configParams
	err := readParams(given, func(f *fields) {
		params.read(f)
		f.nested("server", server.read)
	})
	if err != nil {
		return nil, err
	}
	if params.Count < 1 || params.Count > selfbenchMaxCount {
		return nil, fmt.Errorf("count: want 1 .. %d, got %d", selfbenchMaxCount, params.Count)
	}
	if len(server.Certificates) == 0 {
		return nil, fmt.Errorf("server.certificates: the server endpoint needs a certificate")
	}
	if params.Time == 0 {
		params.Time = selfbenchEpoch
	}
	if params.TimeoutMS <= 0 {
		params.TimeoutMS = 5000
	}

	prefix := fmt.Sprintf("selfbench#%d#", atomic.AddInt64(&selfbenchRuns, 1))
	defer opDrop(p, object{"prefix": prefix})

	// The endpoints are the caller's configs, with this request's names and seeds.
	serverConfig, clientConfig := object{}, object{}
	for k, v := range params.Server {
		serverConfig[k] = v
	}
	for k, v := range params.Client {
		clientConfig[k] = v
	}
	serverConfig["rand_seed"] = prefix + "server"
	clientConfig["rand_seed"] = prefix + "client"
	clientConfig["cache"] = nil
	if params.Resume {
		clientConfig["cache"] = prefix + "cache"
	}
	if _, err := opConfigure(p, object{"name": prefix + "server", "role": "server", "config": serverConfig}); err != nil {
		return nil, fmt.Errorf("server endpoint: %v", err)
	}
	if _, err := opConfigure(p, object{"name": prefix + "client", "role": "client", "config": clientConfig}); err != nil {
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
	return map[string]interface{}{"count": params.Count, "seconds": seconds, "handshakes_per_second": rate,
		"resumed": resumed}, nil
}

// selfbenchConnection runs one connection the way the harness does: listen, then
// accept and connect in flight at once. It reports whether the client resumed.
func selfbenchConnection(p *peer, prefix string, i int, params selfbenchParams) (bool, error) {
	listener := prefix + "listener" + strconv.Itoa(i)
	res, err := opListen(p, object{"name": listener, "endpoint": prefix + "server"})
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
		serverRes, serverErr = opAccept(p, object{
			"listener": listener, "conn_id": connID, "time": params.Time, "timeout_ms": params.TimeoutMS,
		})
	}()
	clientRes, clientErr := opConnect(p, object{
		"endpoint": prefix + "client", "port": port, "conn_id": connID, "time": params.Time,
		"timeout_ms": params.TimeoutMS,
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
