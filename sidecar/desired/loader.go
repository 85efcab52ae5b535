package desired

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

// Reader is what the loader needs from package source.
type Reader interface {
	Get(ctx context.Context, uri string) ([]byte, source.Object, error)
	List(ctx context.Context, uri string) ([]source.Object, error)
}

// Set is the desired state read from every file at one moment.
type Set struct {
	// Connectors are the connectors whose file is good, sorted by name.
	Connectors []Connector
	// Errors has one entry per bad file (a name claimed by two files
	// makes both bad), sorted by file.
	Errors []*FileError
	// Held are the names that only bad files name: neither applied nor
	// pruned until their file is fixed.
	Held []string
	// Files is the number of *.json files seen, good or bad.
	Files int
}

// Complete reports whether every file was good, so that a connector absent
// from the set is really absent and may be pruned.
func (s Set) Complete() bool { return len(s.Errors) == 0 }

// Loader reads the *.json files under one URI and remembers each file's
// version, so that a file is downloaded again only when its version (S3
// ETag, or size and modification time) changed.
type Loader struct {
	r   Reader
	uri source.URI

	mu    sync.Mutex
	cache map[string]cached // by object URI
}

type cached struct {
	version string
	conn    Connector
	err     *FileError
}

// NewLoader reads desired connectors from uri: s3://bucket/prefix/ or
// file:///dir. The source lists an S3 prefix as a directory, with or
// without its trailing slash.
func NewLoader(r Reader, uri string) (*Loader, error) {
	u, err := source.ParseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("SIDECAR_CONNECTORS_URI: %w", err)
	}
	return &Loader{r: r, uri: u, cache: map[string]cached{}}, nil
}

// URI is the location the loader reads.
func (l *Loader) URI() string { return l.uri.String() }

// Load lists the location and parses every *.json file, fetching only those
// whose version changed since the last Load. The error is for the listing
// only; bad files are reported in Set.Errors and do not stop the others.
func (l *Loader) Load(ctx context.Context) (Set, error) {
	objs, err := l.r.List(ctx, l.uri.String())
	if err != nil {
		return Set{}, fmt.Errorf("list connector files: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]bool{}
	var parsed []cached
	for _, o := range objs {
		if !strings.HasSuffix(strings.ToLower(o.Name), ".json") {
			continue
		}
		seen[o.URI] = true
		if c, ok := l.cache[o.URI]; ok && c.version == o.Version {
			parsed = append(parsed, c)
			continue
		}
		c := cached{version: o.Version}
		data, _, err := l.r.Get(ctx, o.URI)
		if err != nil {
			// Not cached: the next Load fetches it again.
			parsed = append(parsed, cached{err: &FileError{File: o.URI, Err: fmt.Errorf("read: %w", err)}})
			continue
		}
		conn, err := Parse(o.URI, data)
		if err != nil {
			c.err = err.(*FileError)
		} else {
			c.conn = conn
		}
		l.cache[o.URI] = c
		parsed = append(parsed, c)
	}
	for uri := range l.cache {
		if !seen[uri] {
			delete(l.cache, uri)
		}
	}
	return assemble(parsed), nil
}

// assemble turns parsed files into a Set: a name claimed by two files is
// applied from neither and reported against both.
func assemble(files []cached) Set {
	set := Set{Files: len(files)}
	byName := map[string][]Connector{}
	held := map[string]bool{}
	for _, f := range files {
		if f.err != nil {
			set.Errors = append(set.Errors, f.err)
			if f.err.Connector != "" {
				held[f.err.Connector] = true
			}
			continue
		}
		byName[f.conn.Name] = append(byName[f.conn.Name], f.conn)
	}
	for name, cs := range byName {
		if len(cs) == 1 {
			set.Connectors = append(set.Connectors, cs[0])
			continue
		}
		held[name] = true
		var others []string
		for _, c := range cs {
			others = append(others, c.File)
		}
		sort.Strings(others)
		for _, c := range cs {
			set.Errors = append(set.Errors, &FileError{File: c.File, Connector: name,
				Err: fmt.Errorf("%w: %q is defined in %s; neither file is applied", ErrDuplicateName, name, strings.Join(others, " and "))})
		}
	}
	for _, c := range set.Connectors {
		delete(held, c.Name)
	}
	for name := range held {
		set.Held = append(set.Held, name)
	}
	sort.Strings(set.Held)
	sort.Slice(set.Connectors, func(i, j int) bool { return set.Connectors[i].Name < set.Connectors[j].Name })
	sort.Slice(set.Errors, func(i, j int) bool { return set.Errors[i].File < set.Errors[j].File })
	return set
}
