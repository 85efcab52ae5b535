package desired

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions tune Watch.
type WatchOptions struct {
	// Debounce is the quiet time after the last file event before a change
	// is announced, so that an editor's write-rename-chmod counts once.
	Debounce time.Duration
	// PollInterval is the S3 listing interval.
	PollInterval time.Duration
}

// Watch sends on changed (without blocking; the channel should have room
// for one) whenever the files may have changed, until ctx ends. For a
// directory it uses fsnotify on the directory, its subdirectories and its
// parent, so that rename-on-save, Kubernetes-style ..data symlink swaps and
// a swap of the directory itself are all seen. For S3 it lists every
// PollInterval and announces a change only when a name or ETag differs.
// Callers should still Load periodically: events can be lost.
func (l *Loader) Watch(ctx context.Context, opts WatchOptions, changed chan<- struct{}) error {
	if opts.Debounce <= 0 {
		opts.Debounce = 250 * time.Millisecond
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 15 * time.Second
	}
	if l.uri.Scheme == "file" {
		return watchDir(ctx, l.uri.Path, opts.Debounce, changed)
	}
	return l.poll(ctx, opts.PollInterval, changed)
}

func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (l *Loader) poll(ctx context.Context, every time.Duration, changed chan<- struct{}) error {
	// The first listing is the baseline, not a change. An empty listing is a
	// baseline too: the first files uploaded to an empty prefix are a change.
	var last string
	baseline := false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		objs, err := l.r.List(ctx, l.uri.String())
		if err == nil {
			var b strings.Builder
			for _, o := range objs {
				fmt.Fprintf(&b, "%s\x00%s\n", o.Name, o.Version)
			}
			cur := b.String()
			if baseline && cur != last {
				signal(changed)
			}
			last, baseline = cur, true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func watchDir(ctx context.Context, dir string, debounce time.Duration, changed chan<- struct{}) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	defer w.Close()
	// The parent sees the directory itself being replaced or created late.
	if err := w.Add(filepath.Dir(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("watch %s: %w", filepath.Dir(dir), err)
	}
	addTree(w, dir)
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if filepath.Dir(ev.Name) == filepath.Dir(dir) && ev.Name != dir {
				continue // a sibling of the watched directory
			}
			if ev.Has(fsnotify.Create) || ev.Name == dir {
				addTree(w, dir) // new subdirectory, or the directory came back
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			signal(changed)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow loses events: announce a change so the caller
			// reloads everything.
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				signal(changed)
			}
		}
	}
}

// addTree watches dir and its subdirectories, hidden ones included: a
// Kubernetes-style ..data swap happens inside hidden entries.
func addTree(w *fsnotify.Watcher, dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() || (d.Type()&fs.ModeSymlink != 0 && isDir(p)) {
			_ = w.Add(p)
		}
		return nil
	})
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}
