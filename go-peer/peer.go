package main

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
)

// peer holds the named objects the harness creates: endpoints (configs), session
// caches and listeners. Names are chosen by the harness and unique per case run.
type peer struct {
	mu        sync.Mutex
	endpoints map[string]*endpoint
	caches    map[string]*recordingCache
	listeners map[string]*listener
	nextPort  int
}

type listener struct {
	ln       net.Listener
	endpoint *endpoint
}

func newPeer() *peer {
	return &peer{
		endpoints: map[string]*endpoint{},
		caches:    map[string]*recordingCache{},
		listeners: map[string]*listener{},
	}
}

func goRelease() string { return runtime.Version() }

func (p *peer) endpointNamed(name string) (*endpoint, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.endpoints[name]
	if !ok {
		return nil, fmt.Errorf("no endpoint named %q", name)
	}
	return e, nil
}

// existingCache is a cache some endpoint made; asking for another is an error.
func (p *peer) existingCache(name string) (*recordingCache, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.caches[name]
	if !ok {
		return nil, fmt.Errorf("no cache named %q", name)
	}
	return c, nil
}

func (p *peer) cacheNamed(name string, capacity int) (*recordingCache, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.caches[name]; ok {
		return c, nil
	}
	c := newRecordingCache(capacity)
	p.caches[name] = c
	return c, nil
}

// hello answers what this peer can do, so the harness never has to guess.
// helloParams: binary_sha256 asks for the executable's digest, which costs a read of the
// whole binary (12 ms; a default run starts some forty peers, most of which no one asks).
type helloParams struct {
	BinarySHA256 bool
}

func (p *helloParams) read(f *fields) {
	f.boolean("binary_sha256", &p.BinarySHA256)
}

func opHello(p *peer, given object) (interface{}, error) {
	var params helloParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	a := apis()
	a["ech_client"], a["ech_server"] = echClient, echServer
	hello := map[string]interface{}{
		"release":                 strings.TrimPrefix(goRelease(), "go"),
		"connection_state_fields": connectionStateFields(),
		"apis":                    a,
		"misbehaviours":           misbehaviours(),
		"cipher_suites":           cipherSuiteNames(),
		"groups":                  groupNames(),
		"protocol":                2,
		"ops":                     helloOps(),
	}
	if params.BinarySHA256 {
		if digest := binarySHA256(); digest != "" {
			hello["binary_sha256"] = digest
		}
	}
	return hello, nil
}

type configureParams struct {
	Name   string
	Role   string
	Config configParams
}

func (p *configureParams) read(f *fields) {
	f.str("name", &p.Name)
	f.str("role", &p.Role)
	f.nested("config", p.Config.read)
}

func opConfigure(p *peer, given object) (interface{}, error) {
	var params configureParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	if params.Role != "server" && params.Role != "client" {
		return nil, fmt.Errorf("role: want server or client, got %q", params.Role)
	}
	cfg, cache, err := p.buildConfig(params.Role, params.Config)
	if err != nil {
		return nil, err
	}
	e := &endpoint{name: params.Name, role: params.Role, config: cfg, cache: cache}
	e.bind(params.Config.RandSeed)
	p.setConfigForClient(e, params.Config.ConfigForClient)
	p.mu.Lock()
	p.endpoints[params.Name] = e
	p.mu.Unlock()
	return map[string]interface{}{"name": params.Name}, nil
}

type cloneParams struct {
	Name     string
	From     string
	RandSeed string
	Set      object // fields changed on the clone
}

func (p *cloneParams) read(f *fields) {
	f.str("name", &p.Name)
	f.str("from", &p.From)
	f.str("rand_seed", &p.RandSeed)
	f.object("set", &p.Set)
}

// clone makes a new endpoint with Config.Clone of a live one: whether the clone
// shares the automatic ticket keys is one of the things a case observes.
func opClone(p *peer, given object) (interface{}, error) {
	var params cloneParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	src, err := p.endpointNamed(params.From)
	if err != nil {
		return nil, err
	}
	e := &endpoint{name: params.Name, role: src.role, config: src.config.Clone(), cache: src.cache}
	e.now = src.clock()
	e.bind(params.RandSeed)
	// The copied callback would serve the original's clock and key log.
	p.setConfigForClient(e, src.configForClient)
	if err := p.applyCloneOverrides(e, params.Set); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.endpoints[params.Name] = e
	p.mu.Unlock()
	return map[string]interface{}{"name": params.Name}, nil
}

type ticketKeysParams struct {
	Name string
	Keys []string
}

func (p *ticketKeysParams) read(f *fields) {
	f.str("name", &p.Name)
	f.strs("keys", &p.Keys)
}

func opSetTicketKeys(p *peer, given object) (interface{}, error) {
	var params ticketKeysParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	e, err := p.endpointNamed(params.Name)
	if err != nil {
		return nil, err
	}
	if len(params.Keys) == 0 {
		return nil, fmt.Errorf("keys: SetSessionTicketKeys panics on an empty list; give at least one key")
	}
	keys, err := ticketKeys(params.Keys)
	if err != nil {
		return nil, err
	}
	e.config.SetSessionTicketKeys(keys)
	return map[string]interface{}{"name": params.Name}, nil
}

type listenParams struct {
	Name     string
	Endpoint string
}

func (p *listenParams) read(f *fields) {
	f.str("name", &p.Name)
	f.str("endpoint", &p.Endpoint)
}

// listen opens a listener on 127.0.0.1 for one server endpoint and reports its port.
func opListen(p *peer, given object) (interface{}, error) {
	var params listenParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	e, err := p.endpointNamed(params.Endpoint)
	if err != nil {
		return nil, err
	}
	if e.role != "server" {
		return nil, fmt.Errorf("endpoint %q is a %s, not a server", params.Endpoint, e.role)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.listeners[params.Name] = &listener{ln: ln, endpoint: e}
	p.mu.Unlock()
	return map[string]interface{}{"port": ln.Addr().(*net.TCPAddr).Port}, nil
}

type cacheDumpParams struct {
	Cache string
}

func (p *cacheDumpParams) read(f *fields) {
	f.str("cache", &p.Cache)
}

func opCacheDump(p *peer, given object) (interface{}, error) {
	var params cacheDumpParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	c, err := p.existingCache(params.Cache)
	if err != nil {
		return nil, err
	}
	return map[string]interface{}{"entries": c.dump()}, nil
}

type dropParams struct {
	Prefix string
}

func (p *dropParams) read(f *fields) {
	f.str("prefix", &p.Prefix)
}

// drop forgets every object whose name starts with prefix (the end of a case).
func opDrop(p *peer, given object) (interface{}, error) {
	var params dropParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	if params.Prefix == "" {
		return nil, fmt.Errorf("prefix: must not be empty")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for name := range p.endpoints {
		if strings.HasPrefix(name, params.Prefix) {
			delete(p.endpoints, name)
			n++
		}
	}
	for name := range p.caches {
		if strings.HasPrefix(name, params.Prefix) {
			delete(p.caches, name)
			n++
		}
	}
	for name, l := range p.listeners {
		if strings.HasPrefix(name, params.Prefix) {
			l.ln.Close()
			delete(p.listeners, name)
			n++
		}
	}
	return map[string]interface{}{"dropped": n}, nil
}

type forgetParams struct {
	Cache string
	Key   string
}

func (p *forgetParams) read(f *fields) {
	f.str("cache", &p.Cache)
	f.str("key", &p.Key)
}

// forget_session is the application calling ClientSessionCache.Put(key, nil) to
// forget a server, whether or not the cache holds the key (go.dev/issue/79861).
func opForgetSession(p *peer, given object) (interface{}, error) {
	var params forgetParams
	if err := readParams(given, params.read); err != nil {
		return nil, err
	}
	c, err := p.existingCache(params.Cache)
	if err != nil {
		return nil, err
	}
	c.Put(params.Key, nil)
	return map[string]interface{}{"key": params.Key}, nil
}
