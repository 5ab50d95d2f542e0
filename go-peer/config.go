package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// endpoint is a named tls.Config plus what the peer needs around it: a clock the
// harness sets per connection, a seeded random stream, and a key log that each
// connection reads back. Connections of one endpoint run one at a time.
type endpoint struct {
	name   string
	role   string // "server" or "client"
	config *tls.Config
	cache  *recordingCache // client endpoints with a session cache
	// configForClient names the server whose config GetConfigForClient clones.
	configForClient string

	mu     sync.Mutex
	now    time.Time
	keylog strings.Builder
}

func (e *endpoint) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *endpoint) setClock(unix int64) {
	e.mu.Lock()
	e.now = time.Unix(unix, 0).UTC()
	e.mu.Unlock()
}

// Write collects key log lines for the connection in progress.
func (e *endpoint) Write(b []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.keylog.Write(b)
}

func (e *endpoint) takeKeylog() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.keylog.String()
	e.keylog.Reset()
	return s
}

// bind points the config's callbacks at this endpoint: needed after Clone, which
// copies the callbacks of the original.
func (e *endpoint) bind(seed string) {
	e.config.Time = e.clock
	e.config.KeyLogWriter = e
	if seed != "" {
		e.config.Rand = newSeededRand(seed)
	}
}

// configParams is a server or client configuration as a request gives it (PROTOCOL.md).
type configParams struct {
	MinVersion             string
	MaxVersion             string
	CipherSuites           []string
	CurvePreferences       []string
	Certificates           []certPair
	ClientAuth             string
	ClientCAs              []string
	RootCAs                []string
	ServerName             string
	InsecureSkipVerify     bool
	NextProtos             []string
	SessionTicketsDisabled bool
	SessionTicketKey       string
	TicketKeys             []string
	RandSeed               string
	Cache                  string
	CacheCapacity          int
	WrapSession            string
	ConfigForClient        string
	RejectByCallback       string
	GetClientCertificate   string
	Misbehave              object
	ECHConfigList          []byte // nil: no ECH
	ECHKeys                []echKeyParams
}

// read takes the fields by their names in PROTOCOL.md.
func (c *configParams) read(f *fields) {
	f.str("min_version", &c.MinVersion)
	f.str("max_version", &c.MaxVersion)
	f.strs("cipher_suites", &c.CipherSuites)
	f.strs("curve_preferences", &c.CurvePreferences)
	f.objects("certificates", func(_ int, g *fields) {
		var pair certPair
		g.str("cert_pem", &pair.CertPEM)
		g.str("key_pem", &pair.KeyPEM)
		c.Certificates = append(c.Certificates, pair)
	})
	f.str("client_auth", &c.ClientAuth)
	f.strs("client_cas", &c.ClientCAs)
	f.strs("root_cas", &c.RootCAs)
	f.str("server_name", &c.ServerName)
	f.boolean("insecure_skip_verify", &c.InsecureSkipVerify)
	f.strs("alpn", &c.NextProtos)
	f.boolean("session_tickets_disabled", &c.SessionTicketsDisabled)
	f.str("session_ticket_key", &c.SessionTicketKey)
	f.strs("ticket_keys", &c.TicketKeys)
	f.str("rand_seed", &c.RandSeed)
	f.str("cache", &c.Cache)
	f.integer("cache_capacity", &c.CacheCapacity)
	f.str("wrap_session", &c.WrapSession)
	f.str("config_for_client", &c.ConfigForClient)
	f.str("reject_by_callback", &c.RejectByCallback)
	f.str("get_client_certificate", &c.GetClientCertificate)
	f.object("misbehave", &c.Misbehave)
	f.bytes("ech_config_list", &c.ECHConfigList)
	if _, ok := f.get("ech_keys"); ok {
		c.ECHKeys = []echKeyParams{} // given, even empty: the server has ECH keys
	}
	f.objects("ech_keys", func(_ int, g *fields) {
		var k echKeyParams
		g.bytes("config", &k.Config)
		g.bytes("private_key", &k.PrivateKey)
		g.boolean("send_as_retry", &k.SendAsRetry)
		c.ECHKeys = append(c.ECHKeys, k)
	})
}

// echKeyParams is one tls.EncryptedClientHelloKey (its bytes in base64 on the wire).
type echKeyParams struct {
	Config      []byte
	PrivateKey  []byte
	SendAsRetry bool
}

type certPair struct {
	CertPEM string
	KeyPEM  string
}

var versionByName = map[string]uint16{
	"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13,
}

var clientAuthByName = map[string]tls.ClientAuthType{
	"":                           tls.NoClientCert,
	"NoClientCert":               tls.NoClientCert,
	"RequestClientCert":          tls.RequestClientCert,
	"RequireAnyClientCert":       tls.RequireAnyClientCert,
	"VerifyClientCertIfGiven":    tls.VerifyClientCertIfGiven,
	"RequireAndVerifyClientCert": tls.RequireAndVerifyClientCert,
}

// buildConfig turns configParams into a tls.Config for the given role.
func (p *peer) buildConfig(role string, c configParams) (*tls.Config, *recordingCache, error) {
	cfg := &tls.Config{
		ServerName:             c.ServerName,
		InsecureSkipVerify:     c.InsecureSkipVerify,
		NextProtos:             c.NextProtos,
		SessionTicketsDisabled: c.SessionTicketsDisabled,
	}
	var err error
	if cfg.MinVersion, err = parseVersion("min_version", c.MinVersion); err != nil {
		return nil, nil, err
	}
	if cfg.MaxVersion, err = parseVersion("max_version", c.MaxVersion); err != nil {
		return nil, nil, err
	}
	for _, name := range c.CipherSuites {
		id, ok := cipherSuiteByName(name)
		if !ok {
			return nil, nil, unsupportedError{fmt.Sprintf("cipher suite %s is unknown to %s", name, goRelease())}
		}
		cfg.CipherSuites = append(cfg.CipherSuites, id)
	}
	for _, name := range c.CurvePreferences {
		id, ok := curveByName(name)
		if !ok {
			return nil, nil, unsupportedError{fmt.Sprintf("group %s is unknown to %s", name, goRelease())}
		}
		cfg.CurvePreferences = append(cfg.CurvePreferences, id)
	}
	for i, pair := range c.Certificates {
		cert, err := parsed.keyPair(pair.CertPEM, pair.KeyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("certificates[%d]: %v", i, err)
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	auth, ok := clientAuthByName[c.ClientAuth]
	if !ok {
		return nil, nil, fmt.Errorf("client_auth: unknown value %q", c.ClientAuth)
	}
	cfg.ClientAuth = auth
	if cfg.ClientCAs, err = certPool("client_cas", c.ClientCAs); err != nil {
		return nil, nil, err
	}
	if cfg.RootCAs, err = certPool("root_cas", c.RootCAs); err != nil {
		return nil, nil, err
	}
	if c.SessionTicketKey != "" {
		key, err := ticketKey(c.SessionTicketKey)
		if err != nil {
			return nil, nil, fmt.Errorf("session_ticket_key: %v", err)
		}
		cfg.SessionTicketKey = key
	}
	if len(c.TicketKeys) > 0 {
		keys, err := ticketKeys(c.TicketKeys)
		if err != nil {
			return nil, nil, err
		}
		cfg.SetSessionTicketKeys(keys)
	}
	if c.WrapSession != "" {
		if role != "server" {
			return nil, nil, fmt.Errorf("wrap_session: only a server wraps sessions")
		}
		if err := setWrapSession(cfg, c.WrapSession); err != nil {
			return nil, nil, err
		}
	}
	var cache *recordingCache
	if c.Cache != "" {
		if role != "client" {
			return nil, nil, fmt.Errorf("cache: only a client has a session cache")
		}
		cache, err = p.cacheNamed(c.Cache, c.CacheCapacity)
		if err != nil {
			return nil, nil, err
		}
		cfg.ClientSessionCache = cache
	}
	if err := setRejectingCallback(cfg, c.RejectByCallback); err != nil {
		return nil, nil, err
	}
	if c.ECHConfigList != nil {
		if role != "client" {
			return nil, nil, fmt.Errorf("ech_config_list: only a client offers ECH; a server has ech_keys")
		}
		if err := setECHConfigList(cfg, c.ECHConfigList); err != nil {
			return nil, nil, err
		}
	}
	if c.ECHKeys != nil {
		if role != "server" {
			return nil, nil, fmt.Errorf("ech_keys: only a server holds ECH keys; a client has ech_config_list")
		}
		if err := setECHKeys(cfg, c.ECHKeys); err != nil {
			return nil, nil, err
		}
	}
	if err := setClientCertificateCallback(cfg, role, c.GetClientCertificate); err != nil {
		return nil, nil, err
	}
	if c.ConfigForClient != "" && role != "server" {
		return nil, nil, fmt.Errorf("config_for_client: only a server has GetConfigForClient")
	}
	if err := applyMisbehave(c.Misbehave, misbehaveTarget{role: role, cache: cache}); err != nil {
		return nil, nil, err
	}
	return cfg, cache, nil
}

// misbehaveTarget is what a misbehaviour may bend: the endpoint being configured.
type misbehaveTarget struct {
	role  string
	cache *recordingCache // nil unless a client with a cache
}

// knob is one misbehaviour the config key misbehave can ask for. The knobs map,
// from knob name to knob, is in session_go121.go and session_old.go: the one
// list of the misbehaviours this release knows.
type knob struct {
	// apply checks the value and the endpoint, then commits the misbehaviour.
	apply func(name string, value interface{}, t misbehaveTarget) error
	// unsupported, if set, is why this release cannot commit the misbehaviour:
	// apply only checks the request, then configure answers unsupported.
	unsupported string
}

// misbehaviours lists, sorted, the knobs this build honours (hello).
func misbehaviours() []string {
	out := []string{}
	for name, k := range knobs {
		if k.unsupported == "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// applyMisbehave applies the config key misbehave: knob name to value. An
// unknown knob, a bad value or an endpoint the knob cannot bend is an error; a
// knob this release knows but cannot honour is unsupported.
func applyMisbehave(m object, t misbehaveTarget) error {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := knobs[name]; !ok {
			honoured := "none"
			if h := misbehaviours(); len(h) > 0 {
				honoured = strings.Join(h, ", ")
			}
			return fmt.Errorf("misbehave: unknown knob %q; this peer honours: %s", name, honoured)
		}
	}
	var unsupported []string
	for _, name := range names {
		k := knobs[name]
		if err := k.apply(name, m[name], t); err != nil {
			return err
		}
		if k.unsupported != "" {
			unsupported = append(unsupported, k.unsupported)
		}
	}
	if len(unsupported) > 0 {
		return unsupportedError{strings.Join(unsupported, "; ")}
	}
	return nil
}

// wantTrue checks that a knob that is switched on is given true.
func wantTrue(name string, value interface{}) error {
	if value != true {
		b, _ := appendValue(nil, value)
		return fmt.Errorf("misbehave: %s wants true, got %s", name, b)
	}
	return nil
}

// checkCacheKnob checks a knob that bends a client's session cache: its value is
// true and the endpoint is a client with a cache.
func checkCacheKnob(name string, value interface{}, t misbehaveTarget) error {
	if err := wantTrue(name, value); err != nil {
		return err
	}
	if t.role != "client" || t.cache == nil {
		return fmt.Errorf("misbehave: %s needs a client endpoint with a cache", name)
	}
	return nil
}

func parseVersion(field, v string) (uint16, error) {
	if v == "" {
		return 0, nil
	}
	id, ok := versionByName[v]
	if !ok {
		return 0, fmt.Errorf("%s: unknown TLS version %q (expected 1.0, 1.1, 1.2 or 1.3)", field, v)
	}
	return id, nil
}

func certPool(field string, pems []string) (*x509.CertPool, error) {
	if len(pems) == 0 {
		return nil, nil
	}
	key := strings.Join(pems, "\x00")
	if pool := parsed.pool(key); pool != nil {
		return pool, nil
	}
	pool := x509.NewCertPool()
	for i, pem := range pems {
		if !pool.AppendCertsFromPEM([]byte(pem)) {
			return nil, fmt.Errorf("%s[%d]: no certificate in PEM", field, i)
		}
	}
	parsed.keepPool(key, pool)
	return pool, nil
}

// parsed keeps the certificates, keys and pools this peer has parsed, by their PEM:
// every case run configures its endpoints afresh with the same few PEMs, and parsing
// them was a tenth of the peer's CPU. Sharing them between configs is what a server
// serving many connections does; nothing changes a parsed pair or pool afterwards.
var parsed = &parseCache{pairs: map[string]tls.Certificate{}, pools: map[string]*x509.CertPool{}}

// parseCacheMax bounds each table; past it the table starts again empty.
const parseCacheMax = 256

type parseCache struct {
	mu    sync.Mutex
	pairs map[string]tls.Certificate
	pools map[string]*x509.CertPool
}

func (c *parseCache) keyPair(certPEM, keyPEM string) (tls.Certificate, error) {
	key := certPEM + "\x00" + keyPEM
	c.mu.Lock()
	cert, ok := c.pairs[key]
	c.mu.Unlock()
	if ok {
		return cert, nil
	}
	cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err != nil {
		return cert, err
	}
	c.mu.Lock()
	if len(c.pairs) >= parseCacheMax {
		c.pairs = map[string]tls.Certificate{}
	}
	c.pairs[key] = cert
	c.mu.Unlock()
	return cert, nil
}

func (c *parseCache) pool(key string) *x509.CertPool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pools[key]
}

func (c *parseCache) keepPool(key string, pool *x509.CertPool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pools) >= parseCacheMax {
		c.pools = map[string]*x509.CertPool{}
	}
	c.pools[key] = pool
}

func ticketKey(h string) ([32]byte, error) {
	var key [32]byte
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return key, fmt.Errorf("want 64 hex digits, got %q", h)
	}
	copy(key[:], b)
	return key, nil
}

func ticketKeys(hexKeys []string) ([][32]byte, error) {
	var keys [][32]byte
	for i, h := range hexKeys {
		key, err := ticketKey(h)
		if err != nil {
			return nil, fmt.Errorf("ticket_keys[%d]: %v", i, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// cipherSuiteNames lists, sorted, the suite names this release knows (hello).
func cipherSuiteNames() []string {
	names := []string{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

func cipherSuiteByName(name string) (uint16, bool) {
	for _, s := range tls.CipherSuites() {
		if s.Name == name {
			return s.ID, true
		}
	}
	for _, s := range tls.InsecureCipherSuites() {
		if s.Name == name {
			return s.ID, true
		}
	}
	return 0, false
}

// seededRand is a deterministic byte stream: SHA-256(seed || counter) blocks.
// It pins what each release still draws from Config.Rand (randoms, ticket IVs,
// ticket_age_add, automatic ticket keys).
type seededRand struct {
	mu      sync.Mutex
	seed    []byte
	counter uint64
	buf     []byte
}

func newSeededRand(seed string) *seededRand { return &seededRand{seed: []byte(seed)} }

func (r *seededRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			var ctr [8]byte
			binary.BigEndian.PutUint64(ctr[:], r.counter)
			r.counter++
			block := sha256.Sum256(append(append([]byte{}, r.seed...), ctr[:]...))
			r.buf = block[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}
