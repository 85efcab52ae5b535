package source

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// URI is a parsed s3:// or file:// location.
type URI struct {
	// Scheme is "s3" or "file".
	Scheme string
	// Bucket is the S3 bucket; empty for file.
	Bucket string
	// Key is the S3 object key or key prefix, without a leading slash;
	// empty for file, and may be empty (the whole bucket) for a prefix.
	Key string
	// VersionID is the S3 object version from ?versionId=; empty for the
	// latest version and for file.
	VersionID string
	// Path is the file's absolute, cleaned path; empty for s3.
	Path string
	raw  string
}

func (u URI) String() string { return u.raw }

// s3URI and fileURI build the URI of a listed object, escaped so that
// ParseURI gives back exactly this bucket, key or path, whatever characters
// ("%", "?", "#", spaces) the name holds.
func s3URI(bucket, key string) string {
	return (&url.URL{Scheme: "s3", Host: bucket, Path: "/" + key}).String()
}

func fileURI(p string) string {
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// ParseObjectURI is ParseURI for a URI that must name one object: an
// s3:// URI needs a key, and one ending in "/" names a prefix instead.
func ParseObjectURI(raw string) (URI, error) {
	u, err := ParseURI(raw)
	if err != nil || u.Scheme != "s3" {
		return u, err
	}
	switch {
	case u.Key == "":
		return URI{}, fmt.Errorf("%q: no object key (want s3://%s/path/to/object)", raw, u.Bucket)
	case strings.HasSuffix(u.Key, "/"):
		return URI{}, fmt.Errorf("%q: names a prefix, not an object (want s3://%s/%sobject)", raw, u.Bucket, u.Key)
	}
	return u, nil
}

// ParseURI accepts s3://bucket/key[?versionId=…] and file:///absolute/path;
// an s3:// key may be empty or end in "/", naming a prefix to list.
func ParseURI(raw string) (URI, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's own message repeats the URI; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return URI{}, fmt.Errorf("%q: %w", raw, err)
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return URI{}, fmt.Errorf("%q: no bucket (want s3://bucket/key)", raw)
		}
		q := u.Query()
		for k := range q {
			if k != "versionId" {
				return URI{}, fmt.Errorf("%q: unknown query parameter %q (only versionId)", raw, k)
			}
		}
		return URI{Scheme: "s3", Bucket: u.Host, Key: strings.TrimPrefix(u.Path, "/"), VersionID: q.Get("versionId"), raw: raw}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return URI{}, fmt.Errorf("%q: file URIs take no host (want file:///absolute/path)", raw)
		}
		if u.Path == "" || !path.IsAbs(u.Path) {
			return URI{}, fmt.Errorf("%q: path must be absolute (want file:///absolute/path)", raw)
		}
		if u.RawQuery != "" {
			return URI{}, fmt.Errorf("%q: file URIs take no query", raw)
		}
		return URI{Scheme: "file", Path: path.Clean(u.Path), raw: raw}, nil
	case "":
		return URI{}, fmt.Errorf("%q: no scheme (want s3:// or file://)", raw)
	default:
		return URI{}, fmt.Errorf("%q: unsupported scheme %q (want s3:// or file://)", raw, u.Scheme)
	}
}
