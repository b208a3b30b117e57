package testbed

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections from a loopback port to a target and can
// make the target look down: Cut drops every connection and refuses new
// ones, Blackhole stops forwarding without closing anything (as a network
// that drops packets does), Restore undoes either on the same port. It
// stands in for stopping a service that other tests share.
type Proxy struct {
	target string
	addr   string
	t      testing.TB

	mu    sync.Mutex
	ln    net.Listener // nil while cut
	conns map[net.Conn]struct{}
	// flowing is closed while bytes are forwarded and open during a black
	// hole; cut is closed by Cut, so that what waits for the black hole to
	// end also stops when its connections are dropped.
	flowing chan struct{}
	cut     chan struct{}
	wg      sync.WaitGroup
}

// NewProxy listens on 127.0.0.1 and forwards to target (host:port) until
// the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy to %s: listen: %v", target, err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), t: t, ln: ln, conns: map[net.Conn]struct{}{},
		flowing: closedChan(), cut: make(chan struct{})}
	p.serve(ln)
	t.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Cut closes every connection and the listening socket, so new
// connections are refused until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.cut:
	default:
		close(p.cut)
	}
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Blackhole stops forwarding in both directions while every connection
// stays open: nothing is closed or reset, and new connections are accepted
// but get no answer, so only a timeout can tell. Restore resumes, and what
// was held back is delivered then, as TCP retransmits it.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flowing:
		p.flowing = make(chan struct{})
	default:
	}
}

// Restore ends a black hole, and after Cut accepts connections again on
// the same port.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flowing:
	default:
		close(p.flowing)
	}
	if p.ln != nil {
		return
	}
	p.cut = make(chan struct{})
	ln, err := listenAgain(p.addr)
	if err != nil {
		p.t.Fatalf("proxy to %s: listen again on %s: %v", p.target, p.addr, err)
	}
	p.ln = ln
	p.serve(ln)
}

// listenAgain retries briefly: the port was just released.
func listenAgain(addr string) (net.Listener, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *Proxy) serve(ln net.Listener) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Cut
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(ln, c)
			}()
		}
	}()
}

// flow waits until bytes may be forwarded: at once unless in a black hole.
// It reports false when Cut dropped the connections meanwhile.
func (p *Proxy) flow() bool {
	p.mu.Lock()
	flowing, cut := p.flowing, p.cut
	p.mu.Unlock()
	select {
	case <-flowing:
		return true
	case <-cut:
		return false
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// forward copies both ways until either side closes or Cut closes both.
// The upstream connection is made only now, so a refused target shows as
// a closed connection; in a black hole, only once it ends.
func (p *Proxy) forward(from net.Listener, client net.Conn) {
	if !p.track(from, client) || !p.flow() {
		p.untrack(client)
		return
	}
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(from, upstream) {
		p.untrack(client, upstream)
		return
	}
	done := make(chan struct{}, 2)
	go p.pipe(upstream, client, done)
	go p.pipe(client, upstream, done)
	<-done
	p.untrack(client, upstream)
	<-done
}

// track registers a connection pair unless the listener it came from was
// cut meanwhile.
func (p *Proxy) track(from net.Listener, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != from {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}

// pipe copies until either side fails or closes; forward then closes both,
// which is how HTTP connections end anyway. During a black hole what was
// read waits, unsent, and the kernel's buffers fill up behind it; so does
// the end of the connection, which the other side must not see either.
func (p *Proxy) pipe(dst, src net.Conn, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if !p.flow() {
			return
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return // the end of a connection is its only outcome here
			}
		}
		if err != nil {
			return
		}
	}
}
