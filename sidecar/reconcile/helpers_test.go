package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
	"github.com/mm2-fargate/mm2-ecs/sidecar/worker"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// noSleep keeps retries instant while honouring cancellation.
func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func newClient(t testing.TB, url string, timeout time.Duration) *connect.Client {
	t.Helper()
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	c, err := connect.New(connect.Config{URL: url, Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// copyDir copies the fixture files of testdata/<name> into a fresh
// directory the test may edit.
func copyDir(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		entries, err := os.ReadDir(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join("testdata", name, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func load(t testing.TB, dir string) desired.Set {
	t.Helper()
	l, err := desired.NewLoader(source.New(source.Options{}), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	set, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// sidecars builds one reconciler per worker, each judging leadership from
// the cluster's current leader as its JMX exporter would show it.
func sidecars(t testing.TB, c *connecttest.Cluster, opts Options) []*Reconciler {
	t.Helper()
	var rs []*Reconciler
	for _, w := range c.Workers() {
		o := opts
		if o.Leadership == nil {
			o.Leadership = worker.NewLeader(w.URL(), c.Leader)
		}
		if o.Sleep == nil {
			o.Sleep = noSleep
		}
		rs = append(rs, New(newClient(t, w.URL(), 0), o))
	}
	return rs
}

func cycleAll(rs []*Reconciler, set desired.Set) []Report {
	var out []Report
	for _, r := range rs {
		out = append(out, r.Cycle(context.Background(), set))
	}
	return out
}

// converged reports whether Connect holds every desired config exactly.
func converged(c *connecttest.Cluster, set desired.Set) bool {
	for _, d := range set.Connectors {
		got, ok := c.Config(d.Name)
		if !ok || len(got) != len(d.Config) {
			return false
		}
		for k, v := range d.Config {
			if got[k] != v {
				return false
			}
		}
	}
	return true
}

func writeFile(t testing.TB, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
