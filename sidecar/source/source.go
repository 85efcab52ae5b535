// Package source owns reading what lives at an s3:// or file:// URI: fetching
// one object with a size cap and bounded retries, and listing a prefix or
// directory with a version tag per object. It does not interpret contents and
// does not watch for changes; callers decide what a change means.
package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mm2-fargate/mm2-ecs/sidecar/awsfail"
)

// Errors callers branch on. They are wrapped in an *Error naming the URI.
var (
	ErrNotFound = errors.New("not found")
	// ErrAccessDenied is also what an S3 refusal is (awsfail.DeniedError).
	ErrAccessDenied = awsfail.ErrAccessDenied
	ErrTooLarge     = errors.New("object too large")
	// ErrNotRegular is a file:// path naming a FIFO, device, socket or
	// directory: reading one may block for ever or never end.
	ErrNotRegular = errors.New("not a regular file")
)

// errDeadline is the cause of a fetch's own deadline, told apart from the
// caller's cancellation (SIGTERM) when an error is reported.
var errDeadline = errors.New("SIDECAR_FETCH_DEADLINE")

// Error names the URI an operation failed on.
type Error struct {
	// URI is the URI as the caller gave it.
	URI string
	// Op is what failed: get (s3), read (file) or list.
	Op string
	// Err is the cause; errors.Is matches ErrNotFound, ErrAccessDenied,
	// ErrTooLarge or ErrNotRegular through it when one of them applies.
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.URI, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Object describes one object or file.
type Object struct {
	// URI is the object's full URI, which Get accepts.
	URI string
	// Name is the path relative to the listed prefix or directory; for
	// Get, the base name.
	Name string
	// Version changes whenever the content does: the S3 ETag without its
	// quotes; for a file, "<size>-<mtime in ns>" when listed and the hex
	// SHA-256 of its contents when fetched.
	Version string
	// Size is the object's size in bytes.
	Size int64
}

// Options bound every fetch.
type Options struct {
	// Config gives MaxObjectBytes, above which an object is refused, and
	// FetchDeadline, the total time for one fetch, retries included.
	Config
	// Fetched, when set, is told the outcome of every S3 request
	// ("ok", "not_found", "denied", "error") for metrics.
	Fetched func(outcome string)
	// Logger is told of every retry of an S3 request (INFO) and, while a
	// fetch lasts, every WaitReport of what it waits for (WARN); nil
	// discards.
	Logger *slog.Logger
	// WaitReport is how often a fetch still under way is reported (30s
	// when zero).
	WaitReport time.Duration
}

// Reader reads s3:// and file:// URIs. The S3 client is created on first use,
// so file-only runs need no AWS configuration at all.
type Reader struct {
	opts Options
	// dial, when set, replaces the network the S3 client connects
	// through: tests give it an in-memory one so that retries, backoff and
	// deadlines run on a fake clock.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	once     sync.Once
	s3       *s3.Client
	s3Err    error
	region   string
	endpoint string // AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; empty for AWS's own
}

// New returns a Reader with the given limits.
func New(opts Options) *Reader {
	if opts.MaxObjectBytes <= 0 {
		opts.MaxObjectBytes = 10 << 20
	}
	if opts.FetchDeadline <= 0 {
		opts.FetchDeadline = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.WaitReport <= 0 {
		opts.WaitReport = 30 * time.Second
	}
	return &Reader{opts: opts}
}

// Get fetches the object at raw in full.
func (r *Reader) Get(ctx context.Context, raw string) ([]byte, Object, error) {
	u, err := ParseObjectURI(raw)
	if err != nil {
		return nil, Object{}, err
	}
	if u.Scheme == "file" {
		b, obj, err := r.readFile(ctx, u.Path, raw)
		if err != nil {
			return nil, Object{}, &Error{URI: raw, Op: "read", Err: err}
		}
		return b, obj, nil
	}
	b, obj, err := r.getS3(ctx, u)
	if err != nil {
		return nil, Object{}, &Error{URI: raw, Op: "get", Err: err}
	}
	return b, obj, nil
}

// List returns every object under a prefix (s3) or directory tree (file),
// sorted by name. Hidden files and directories (leading dot) are skipped, so
// editors' swap files and Kubernetes-style ..data directories do not count
// twice.
func (r *Reader) List(ctx context.Context, raw string) ([]Object, error) {
	u, err := ParseURI(raw)
	if err != nil {
		return nil, err
	}
	var objs []Object
	if u.Scheme == "file" {
		objs, err = r.listDir(u.Path)
	} else {
		objs, err = r.listS3(ctx, u)
	}
	if err != nil {
		return nil, &Error{URI: raw, Op: "list", Err: err}
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	return objs, nil
}

// readFile reads a regular file within the deadline. The read runs aside,
// so that a file on a stuck mount cannot hold the caller past the deadline
// or a cancellation.
func (r *Reader) readFile(ctx context.Context, p, raw string) ([]byte, Object, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.FetchDeadline, errDeadline)
	defer cancel()
	if ctx.Err() != nil {
		return nil, Object{}, r.ended(ctx, ctx.Err())
	}
	info, err := os.Stat(p)
	if err != nil {
		return nil, Object{}, fileError(err)
	}
	if err := regular(info); err != nil {
		return nil, Object{}, err
	}
	// O_NONBLOCK: should the path have become a FIFO since the Stat, open
	// returns at once instead of waiting for a writer.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, Object{}, fileError(err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, Object{}, err
	}
	if err := regular(info); err != nil {
		return nil, Object{}, err
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(f, r.opts.MaxObjectBytes+1))
		done <- result{b, err}
	}()
	var b []byte
	select {
	case res := <-done:
		if res.err != nil {
			return nil, Object{}, res.err
		}
		b = res.b
	case <-ctx.Done():
		return nil, Object{}, r.ended(ctx, ctx.Err())
	}
	if int64(len(b)) > r.opts.MaxObjectBytes {
		return nil, Object{}, fmt.Errorf("%w: over %d bytes (SIDECAR_MAX_OBJECT_BYTES)", ErrTooLarge, r.opts.MaxObjectBytes)
	}
	sum := sha256.Sum256(b)
	return b, Object{URI: raw, Name: filepath.Base(p), Version: hex.EncodeToString(sum[:]), Size: int64(len(b))}, nil
}

func fileError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %v", ErrAccessDenied, err)
	}
	return err
}

// regular refuses anything but a regular file, naming what it is.
func regular(info fs.FileInfo) error {
	m := info.Mode()
	kind := ""
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		kind = "a device"
	default:
		kind = "of mode " + m.String()
	}
	return fmt.Errorf("%w: it is %s", ErrNotRegular, kind)
}

// ended explains why a fetch stopped before its end: its own deadline, or
// the caller's cancellation, which is not the deadline's doing however it
// reaches here.
func (r *Reader) ended(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errDeadline) {
		return fmt.Errorf("gave up after %s (SIDECAR_FETCH_DEADLINE): %w", r.opts.FetchDeadline, err)
	}
	return fmt.Errorf("stopped before the fetch ended (%w): %w", context.Cause(ctx), err)
}

func (r *Reader) listDir(root string) ([]Object, error) {
	// The walk starts from the resolved root, because a directory that is
	// itself a symlink (a release link swapped on deploy) is not descended
	// into; objects are still named under the root the caller gave.
	walkRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	var objs []Object
	err = filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != walkRoot && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		// A symlink is followed so that atomic symlink swaps are seen.
		info, err := os.Stat(p)
		if err != nil || info.IsDir() {
			return nil // a dangling link mid-swap is not an object yet
		}
		rel, _ := filepath.Rel(walkRoot, p)
		objs = append(objs, Object{
			URI:     fileURI(filepath.ToSlash(filepath.Join(root, rel))),
			Name:    filepath.ToSlash(rel),
			Version: fmt.Sprintf("%d-%d", info.Size(), info.ModTime().UnixNano()),
			Size:    info.Size(),
		})
		return nil
	})
	return objs, err
}
