package supervise

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

var errBroken = errors.New("boom")

func TestGroupStopsAllWhenOneFails(t *testing.T) {
	var g Group
	stopped := make(chan struct{})
	g.Add("long", func(ctx context.Context) error { <-ctx.Done(); close(stopped); return nil })
	g.Add("broken", func(context.Context) error { return errBroken })
	err := g.Run(context.Background())
	if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "broken: boom") {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the other part was not stopped")
	}
}

// A part that returns without an error while the others run still stops
// them: a sidecar without its reconcile loop must not look alive.
func TestGroupStopsAllWhenOneReturns(t *testing.T) {
	var g Group
	g.Add("long", func(ctx context.Context) error { <-ctx.Done(); return nil })
	g.Add("short", func(context.Context) error { return nil })
	if err := g.Run(context.Background()); err != nil {
		t.Fatalf("err = %v; parts that end on the stop report nothing", err)
	}
}

// A part that ignores the stop is named once the bound has passed, and
// Run returns then, not when the part does.
func TestGroupNamesLatePartsAtTheBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := Group{StopWithin: 3 * time.Second}
		release := make(chan struct{})
		defer close(release)
		g.Add("prompt", func(ctx context.Context) error { <-ctx.Done(); return nil })
		g.Add("stuck", func(context.Context) error { <-release; return nil })
		ctx, cancel := context.WithCancel(context.Background())
		var err error
		returned := make(chan struct{})
		go func() { err = g.Run(ctx); close(returned) }()
		synctest.Wait()
		start := time.Now()
		cancel()
		<-returned
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("Run returned %s after the stop; want the bound, 3s", waited)
		}
		if err == nil || !strings.Contains(err.Error(), "still running 3s after the stop began: stuck") || strings.Contains(err.Error(), "prompt") {
			t.Fatalf("err = %v; want only the stuck part named", err)
		}
	})
}

// Work keeps its context for the grace after the stop, and not longer.
func TestGraceful(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, stop := context.WithCancel(context.Background())
		work, cancel := Graceful(ctx, 5*time.Second)
		defer cancel()
		stop()
		time.Sleep(5*time.Second - time.Nanosecond)
		synctest.Wait()
		if work.Err() != nil {
			t.Fatal("work ended before the grace was over")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if work.Err() == nil {
			t.Fatal("work outlived the grace")
		}
	})
}
