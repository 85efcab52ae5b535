package desired

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// startWatch runs Watch on dir and returns the loader and the channel once
// Watch has placed its watches.
func startWatch(t *testing.T, dir string) (*Loader, chan struct{}) {
	t.Helper()
	l := newFileLoader(t, dir)
	changed := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Watch(ctx, WatchOptions{Debounce: 30 * time.Millisecond}, changed) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	waitPlaced(t, dir, changed)
	return l, changed
}

// waitPlaced writes a probe file into dir until Watch announces it. Watch
// places all its watches before it reads the first event, so the first
// announcement means they are in place; a probe written before then is
// not seen at all, and is written again. The probe is hidden, so Load
// skips it.
func waitPlaced(t *testing.T, dir string, changed <-chan struct{}) {
	t.Helper()
	giveUp := time.After(10 * time.Second)
	for {
		writeFile(t, dir, ".probe", "")
		select {
		case <-changed:
			return
		// Well past the 30 ms debounce: a probe that was seen is announced
		// before the next one is written, which would be announced again
		// later and pass for a change of the test's own.
		case <-time.After(100 * time.Millisecond):
		case <-giveUp:
			t.Fatal("Watch never announced a file written into the watched directory")
		}
	}
}

func tasksMax(t *testing.T, l *Loader, name string) string {
	t.Helper()
	set, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range set.Connectors {
		if c.Name == name {
			return c.Config["tasks.max"]
		}
	}
	return "absent"
}

func msc(n string) string {
	return `{"name":"msc","config":{"connector.class":"MirrorSourceConnector","tasks.max":` + n + `}}`
}

func TestWatchDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "msc.json", msc("1"))
	l, changed := startWatch(t, dir)

	steps := []struct {
		name string
		do   func(t *testing.T)
		want string
	}{
		{"write in place", func(t *testing.T) { writeFile(t, dir, "msc.json", msc("2")) }, "2"},
		{"rename on save", func(t *testing.T) {
			writeFile(t, dir, ".msc.json.tmp", msc("3"))
			if err := os.Rename(filepath.Join(dir, ".msc.json.tmp"), filepath.Join(dir, "msc.json")); err != nil {
				t.Fatal(err)
			}
		}, "3"},
		{"write after the rename", func(t *testing.T) { writeFile(t, dir, "msc.json", msc("4")) }, "4"},
		{"delete", func(t *testing.T) {
			if err := os.Remove(filepath.Join(dir, "msc.json")); err != nil {
				t.Fatal(err)
			}
		}, "absent"},
		{"create again", func(t *testing.T) { writeFile(t, dir, "msc.json", msc("5")) }, "5"},
	}
	for _, s := range steps {
		drain(changed)
		s.do(t)
		waitChange(t, changed)
		if got := tasksMax(t, l, "msc"); got != s.want {
			t.Fatalf("%s: tasks.max %s, want %s", s.name, got, s.want)
		}
	}
}

// TestWatchSymlinkSwap follows the layout Kubernetes uses for mounted
// config: files are links through ..data, itself a link to a timestamped
// directory, and an update swaps ..data atomically.
func TestWatchSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(n, body string) {
		t.Helper()
		d := filepath.Join(dir, "..v"+n)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, d, "msc.json", body)
		if err := os.Symlink("..v"+n, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("1", msc("1"))
	if err := os.Symlink(filepath.Join("..data", "msc.json"), filepath.Join(dir, "msc.json")); err != nil {
		t.Fatal(err)
	}
	l, changed := startWatch(t, dir)
	if got := tasksMax(t, l, "msc"); got != "1" {
		t.Fatalf("initial tasks.max %s", got)
	}
	drain(changed)
	version("2", msc("7"))
	if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changed)
	if got := tasksMax(t, l, "msc"); got != "7" {
		t.Fatalf("after the swap tasks.max %s, want 7", got)
	}
}

// TestWatchDirectorySwap replaces the watched directory itself, as a
// deployment that points a link at a new release directory does.
func TestWatchDirectorySwap(t *testing.T) {
	root := t.TempDir()
	for n, body := range map[string]string{"r1": msc("1"), "r2": msc("9")} {
		if err := os.Mkdir(filepath.Join(root, n), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, n), "msc.json", body)
	}
	link := filepath.Join(root, "current")
	if err := os.Symlink("r1", link); err != nil {
		t.Fatal(err)
	}
	l, changed := startWatch(t, link)
	drain(changed)
	if err := os.Symlink("r2", link+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link+".tmp", link); err != nil {
		t.Fatal(err)
	}
	waitChange(t, changed)
	if got := tasksMax(t, l, "msc"); got != "9" {
		t.Fatalf("after the directory swap tasks.max %s, want 9", got)
	}
}
