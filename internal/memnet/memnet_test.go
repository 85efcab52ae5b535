package memnet

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// A dial that reaches no listener fails as a dial to a closed port does,
// so that code which tells "connection refused" apart sees the same error.
func TestDialRefused(t *testing.T) {
	var n Network
	l, err := n.Listen("closed:80")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"nobody:80", "closed:80"} {
		_, err := n.DialContext(context.Background(), "tcp", addr)
		var op *net.OpError
		var sys *os.SyscallError
		if !errors.As(err, &op) || op.Op != "dial" || !errors.As(err, &sys) || sys.Syscall != "connect" || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: error %#v, want a dial error wrapping connect: connection refused", addr, err)
		}
	}
	if _, err := n.Listen("closed:80"); err != nil {
		t.Errorf("listening again on a closed listener's address: %v", err)
	}
}

func TestListenTwice(t *testing.T) {
	var n Network
	if _, err := n.Listen("a:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Listen("a:1"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second listener on a:1: %v, want address in use", err)
	}
}

// An HTTP exchange on the network leaves a bubble idle while it waits, so
// that the bubble's clock moves: a handler's minute passes at once.
func TestServeInABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n Network
		url := n.Serve(t, "slow:80", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Minute)
			_, _ = io.WriteString(w, "late")
		}))
		began := time.Now()
		resp, err := n.Client().Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != "late" {
			t.Fatalf("body %q, %v", b, err)
		}
		if took := time.Since(began); took != time.Minute {
			t.Errorf("took %s on the bubble's clock, want the handler's minute", took)
		}
	})
}

// A dial that waits for a listener that never accepts ends with its context.
func TestDialCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n Network
		if _, err := n.Listen("busy:80"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := n.DialContext(ctx, "tcp", "busy:80"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v, want the context's deadline", err)
		}
	})
}
