package desired

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/mm2-fargate/mm2-ecs/sidecar/source/s3test"

	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newFileLoader(t *testing.T, dir string) *Loader {
	t.Helper()
	l, err := NewLoader(source.New(source.Options{}), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLoadReportsBadFilesAndKeepsGoodOnes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "msc.json", `{"name":"msc","config":{"connector.class":"MirrorSourceConnector"}}`)
	writeFile(t, dir, "hbc.json", `{"name":"hbc","connector.class":"MirrorHeartbeatConnector"}`)
	writeFile(t, dir, "broken.json", `{"name":"x",`)
	writeFile(t, dir, "cpc-a.json", `{"name":"cpc","connector.class":"MirrorCheckpointConnector"}`)
	writeFile(t, dir, "cpc-b.json", `{"name":"cpc","config":{"connector.class":"MirrorCheckpointConnector"}}`)
	writeFile(t, dir, "notes.txt", `not a connector`)
	writeFile(t, dir, ".msc.json.swp", `{`)

	set, err := newFileLoader(t, dir).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range set.Connectors {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "hbc,msc" {
		t.Fatalf("applied %v, want hbc,msc", names)
	}
	if set.Complete() || len(set.Errors) != 3 {
		t.Fatalf("errors: %v", set.Errors)
	}
	for i, want := range []struct {
		file string
		err  error
	}{{"broken.json", ErrSyntax}, {"cpc-a.json", ErrDuplicateName}, {"cpc-b.json", ErrDuplicateName}} {
		e := set.Errors[i]
		if !strings.HasSuffix(e.File, want.file) || !errors.Is(e, want.err) {
			t.Errorf("error %d: %v, want %s with %v", i, e, want.file, want.err)
		}
	}
	if strings.Join(set.Held, ",") != "cpc" {
		t.Fatalf("held %v, want cpc", set.Held)
	}
}

// countingS3 serves gofakes3 and counts object GETs by key.
type countingS3 struct {
	mu   sync.Mutex
	gets map[string]int
	h    http.Handler
}

func (c *countingS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "" && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1 {
		c.mu.Lock()
		c.gets[r.URL.Path]++
		c.mu.Unlock()
	}
	c.h.ServeHTTP(w, r)
}

func (c *countingS3) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.gets {
		n += v
	}
	return n
}

func startS3(t *testing.T) (*s3mem.Backend, *countingS3) {
	t.Helper()
	cs := &countingS3{gets: map[string]int{}}
	srv := s3test.New(t, func(h http.Handler) http.Handler { cs.h = h; return cs })
	if err := srv.Backend.CreateBucket("cfg"); err != nil {
		t.Fatal(err)
	}
	return srv.Backend, cs
}

func putObject(t *testing.T, b *s3mem.Backend, key, body string) {
	t.Helper()
	if _, err := b.PutObject("cfg", key, map[string]string{}, strings.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadS3RefetchesOnlyChangedObjects(t *testing.T) {
	backend, counter := startS3(t)
	putObject(t, backend, "mm2/connectors/msc.json", `{"name":"msc","config":{"connector.class":"MirrorSourceConnector","tasks.max":2}}`)
	putObject(t, backend, "mm2/connectors/cpc.json", `{"name":"cpc","connector.class":"MirrorCheckpointConnector"}`)
	putObject(t, backend, "mm2/connectors/hbc.json", `{"name":"hbc","connector.class":"MirrorHeartbeatConnector"}`)
	putObject(t, backend, "mm2/connectors-old/stale.json", `{"name":"stale","connector.class":"X"}`)

	l, err := NewLoader(source.New(source.Options{Config: source.Config{FetchDeadline: 10 * time.Second}}), "s3://cfg/mm2/connectors")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	set, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Connectors) != 3 || !set.Complete() || counter.total() != 3 {
		t.Fatalf("first load: %d connectors, errors %v, %d GETs", len(set.Connectors), set.Errors, counter.total())
	}
	if _, err := l.Load(ctx); err != nil || counter.total() != 3 {
		t.Fatalf("unchanged load fetched again: %d GETs, %v", counter.total(), err)
	}
	putObject(t, backend, "mm2/connectors/msc.json", `{"name":"msc","config":{"connector.class":"MirrorSourceConnector","tasks.max":4}}`)
	set, err = l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counter.total() != 4 || counter.gets["/cfg/mm2/connectors/msc.json"] != 2 {
		t.Fatalf("after one change: GETs %v", counter.gets)
	}
	if set.Connectors[2].Name != "msc" || set.Connectors[2].Config["tasks.max"] != "4" {
		t.Fatalf("changed connector not re-read: %+v", set.Connectors[2])
	}

	// The poller announces the ETag change, and only a change.
	p := startPoll(t, l)
	p.listings(3) // the third starts once the second was compared with the first
	select {
	case <-p.changed:
		t.Fatal("change announced with nothing changed")
	default:
	}
	putObject(t, backend, "mm2/connectors/cpc.json", `{"name":"cpc","connector.class":"MirrorCheckpointConnector","tasks.max":"2"}`)
	p.listings(2) // the first of these sees the change, and is compared before the second starts
	select {
	case <-p.changed:
	default:
		t.Fatal("no change announced after a listing that saw it")
	}
}

// poll is a Watch of an S3 prefix whose listings go through only when the
// test lets them: the poller lists, compares with the listing before, and
// lists again, so a listing let through proves the one before it compared.
type poll struct {
	changed chan struct{}
	next    chan struct{}
}

// stepped is a Reader whose every List waits for the test's go-ahead.
type stepped struct {
	Reader
	next <-chan struct{}
}

func (s stepped) List(ctx context.Context, uri string) ([]source.Object, error) {
	select {
	case <-s.next:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Reader.List(ctx, uri)
}

// startPoll watches what l reads, with a poll interval short enough that
// only the test's go-ahead paces the listings.
func startPoll(t *testing.T, l *Loader) *poll {
	t.Helper()
	p := &poll{changed: make(chan struct{}, 1), next: make(chan struct{})}
	w, err := NewLoader(stepped{Reader: l.r, next: p.next}, l.URI())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Watch(ctx, WatchOptions{PollInterval: time.Millisecond}, p.changed) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return p
}

// listings lets n listings start, one after the other.
func (p *poll) listings(n int) {
	for range n {
		p.next <- struct{}{}
	}
}

// TestWatchS3FirstFilesInEmptyPrefix: files uploaded to a prefix that was
// empty when polling started are a change like any other.
func TestWatchS3FirstFilesInEmptyPrefix(t *testing.T) {
	backend, _ := startS3(t)
	l, err := NewLoader(source.New(source.Options{Config: source.Config{FetchDeadline: 10 * time.Second}}), "s3://cfg/mm2/connectors")
	if err != nil {
		t.Fatal(err)
	}
	p := startPoll(t, l)
	p.listings(2) // the empty baseline is taken
	putObject(t, backend, "mm2/connectors/msc.json", `{"name":"msc","connector.class":"MirrorSourceConnector"}`)
	p.listings(2) // the first of these sees the file, and is compared before the second starts
	select {
	case <-p.changed:
	default:
		t.Fatal("the first file in an empty prefix was not announced")
	}
}

func waitChange(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no change announced")
	}
}

// A FIFO among the connector files (or anything else that blocks on read)
// is reported against its file, as a bad file is, and the other connectors
// still load: the load must not wait for a writer that never comes.
func TestLoadReportsAFIFOAndKeepsTheOthers(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "aaa.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "hbc.json", `{"name":"hbc","connector.class":"MirrorHeartbeatConnector"}`)
	type result struct {
		set Set
		err error
	}
	done := make(chan result, 1)
	go func() {
		set, err := newFileLoader(t, dir).Load(context.Background())
		done <- result{set, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.set.Connectors) != 1 || res.set.Connectors[0].Name != "hbc" {
		t.Errorf("connectors %+v, want hbc", res.set.Connectors)
	}
	fifo := "file://" + filepath.Join(dir, "aaa.json")
	if len(res.set.Errors) != 1 || res.set.Errors[0].File != fifo || !errors.Is(res.set.Errors[0], source.ErrNotRegular) {
		t.Fatalf("errors %v, want one for %s", res.set.Errors, fifo)
	}
}
