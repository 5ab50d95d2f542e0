package main

import (
	"fmt"
	"sort"
	"sync"
)

// batch and pair save the harness round trips: each control request costs both
// processes a pipe write, a read and a wake-up, which at thousands of connections a
// run is as much CPU as the handshakes. Each op inside them runs exactly as it would
// alone (the same handler, its panics recovered the same way) and answers with the
// response it would have sent, without the id.
func init() {
	handlers["batch"] = opBatch
	handlers["pair"] = opPair
	helloOps = opNames
}

// helloOps gives the hello's `ops` (set in init: the handlers table holds opHello,
// so opHello cannot name the table directly).
var helloOps func() []string

// opNames is what this peer serves, so the harness uses batch and pair only with a
// peer that has them.
func opNames() []string {
	names := make([]string, 0, len(handlers))
	for name := range handlers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// opBatch runs requests one after another, in order.
func opBatch(p *peer, params object) (interface{}, error) {
	var requests []request
	err := readParams(params, func(f *fields) {
		f.objects("requests", func(_ int, item *fields) {
			var req request
			item.str("op", &req.Op)
			item.object("params", &req.Params)
			requests = append(requests, req)
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]response, len(requests))
	for i, req := range requests {
		h, ok := handlers[req.Op]
		if !ok || req.Op == "batch" || req.Op == "pair" {
			out[i] = response{Error: fmt.Sprintf("go-peer: op %q cannot be batched", req.Op)}
			continue
		}
		out[i] = run(p, h, req)
	}
	return map[string]interface{}{"responses": out}, nil
}

// opPair is a connection between a server endpoint and a client endpoint of this
// process: listen, then accept and connect at once, as the harness would send them
// (the connect's port is the listener's). If listen fails, neither runs.
func opPair(p *peer, params object) (interface{}, error) {
	var listenParams, acceptParams, connectParams object
	err := readParams(params, func(f *fields) {
		f.object("listen", &listenParams)
		f.object("accept", &acceptParams)
		f.object("connect", &connectParams)
	})
	if err != nil {
		return nil, err
	}
	listen := run(p, opListen, request{Op: "listen", Params: listenParams})
	out := map[string]interface{}{"listen": listen}
	if !listen.OK {
		return out, nil
	}
	connect := object{}
	for k, v := range connectParams {
		connect[k] = v
	}
	connect["port"] = listen.Result.(map[string]interface{})["port"]
	var accepted response
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		accepted = run(p, opAccept, request{Op: "accept", Params: acceptParams})
	}()
	out["connect"] = run(p, opConnect, request{Op: "connect", Params: connect})
	wg.Wait()
	out["accept"] = accepted
	return out, nil
}
