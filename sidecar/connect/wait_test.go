package connect_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
)

// While Connect REST does not answer, Wait says every report period what it
// waits for, how long it has waited and what to check.
func TestWaitReports(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	synctest.Test(t, func(t *testing.T) {
		client, err := connect.New(connect.Config{URL: url, Timeout: time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var logs strings.Builder
		log := slog.New(slog.NewTextHandler(&logs, nil))
		ctx, cancel := context.WithTimeout(context.Background(), 1100*time.Millisecond)
		defer cancel()
		if err := client.Wait(ctx, log, 250*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		out := logs.String()
		if n := strings.Count(out, `msg="still waiting for Connect REST"`); n != 4 {
			t.Errorf("%d reports in 1.1s at one per 250ms, want 4:\n%s", n, out)
		}
		// Pings at 0, 0.5 and 1.5s (doubling from 500ms): two in 1.1s.
		if !strings.Contains(out, "attempts=2 ") {
			t.Errorf("the last report does not count two attempts:\n%s", out)
		}
		for _, w := range []string{"level=INFO msg=\"waiting for Connect REST\" url=" + url, "reports_every=250ms",
			"level=WARN msg=\"still waiting for Connect REST\" url=" + url, "waited=", "last_error=", "connection refused",
			`check="that the Kafka Connect worker runs and listens there`, "SIDECAR_CONNECT_URL names it"} {
			if !strings.Contains(out, w) {
				t.Errorf("log lacks %q:\n%s", w, out)
			}
		}
	})
}

// Wait returns as soon as Connect answers, and says so once.
func TestWaitReturnsWhenConnectAnswers(t *testing.T) {
	c := connecttest.NewCluster(t, 1)
	client, err := connect.New(connect.Config{URL: c.Workers()[0].URL(), Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	if err := client.Wait(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `msg="Connect REST is up"`) || strings.Contains(logs.String(), "waiting") {
		t.Errorf("log:\n%s", logs.String())
	}
}
