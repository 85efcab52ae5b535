// Package memnet is an in-memory network for tests: listeners whose
// connections are net.Pipe ends, the dial function that reaches them, and
// HTTP servers and clients on top. It exists for testing/synctest: a
// goroutine blocked on a loopback socket is not durably blocked, so a
// bubble with a real HTTP connection never sees its fake clock advance,
// while one blocked on a pipe is. It owns no production behaviour and
// is no model of TCP beyond connect, refuse, read, write and close.
package memnet

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
)

// Network is a set of listeners by address. The zero value is empty and
// ready for use.
type Network struct {
	mu        sync.Mutex
	listeners map[string]*listener
}

// Listen returns a listener for address, a host:port that DialContext
// connects to from then on.
func (n *Network) Listen(address string) (net.Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listeners == nil {
		n.listeners = map[string]*listener{}
	}
	if _, ok := n.listeners[address]; ok {
		return nil, &net.OpError{Op: "listen", Net: "memnet", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	}
	l := &listener{n: n, addr: addr(address), conns: make(chan net.Conn), closed: make(chan struct{})}
	n.listeners[address] = l
	return l, nil
}

// DialContext connects to the listener at address. With none there, or one
// closed, it fails as a dial to a closed port does: connection refused.
func (n *Network) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[address]
	n.mu.Unlock()
	refused := &net.OpError{Op: "dial", Net: network, Addr: addr(address), Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	if l == nil {
		return nil, refused
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, refused
	case <-ctx.Done():
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr(address), Err: ctx.Err()}
	}
}

// Client returns an HTTP client whose connections go through n.
func (n *Network) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: n.DialContext}}
}

// Serve serves h at address until the test ends and returns its base URL,
// http://address.
func (n *Network) Serve(tb testing.TB, address string, h http.Handler) string {
	tb.Helper()
	l, err := n.Listen(address)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	tb.Cleanup(func() {
		// Close, not Shutdown: a handler still waiting on its request is
		// ended with its connection.
		_ = srv.Close()
		<-done
	})
	return "http://" + address
}

type listener struct {
	n      *Network
	addr   addr
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error {
	err := errors.New("memnet: listener already closed")
	l.once.Do(func() {
		err = nil
		close(l.closed)
		l.n.mu.Lock()
		delete(l.n.listeners, string(l.addr))
		l.n.mu.Unlock()
	})
	return err
}

func (l *listener) Addr() net.Addr { return l.addr }

type addr string

func (addr) Network() string  { return "memnet" }
func (a addr) String() string { return string(a) }
