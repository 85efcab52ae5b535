package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mm2-fargate/mm2-ecs/sidecar/bounded"
)

// SourceOffsets streams the committed offsets of a MirrorMaker 2 source
// connector (GET /connectors/{name}/offsets, Kafka 3.5+) to fn one entry at
// a time, so that an answer for 100,000 partitions is never held in memory
// whole. MM2's partition is {"cluster", "topic", "partition"} and its
// offset {"offset"}; an entry of another shape (a missing key, a string
// where a number belongs, a fraction) is skipped, as Offsets' callers skip
// it. Errors are those of Offsets; an error from fn ends the read and is
// returned as is. When the answer turns out to be malformed part way, fn
// has already seen the entries before the fault.
func (c *Client) SourceOffsets(ctx context.Context, name string, fn func(cluster, topic string, partition int32, offset int64) error) error {
	const method = http.MethodGet
	path := connectorPath(name, "offsets")
	resp, err := c.open(ctx, method, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := &bodyReader{r: bounded.Reader(resp.Body, maxStreamedBytes, ErrAnswerTooLarge)}
	err = decodeSourceOffsets(json.NewDecoder(body), fn)
	var fnErr *callbackError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fnErr):
		return fnErr.err
	case errors.Is(body.err, ErrAnswerTooLarge):
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Err: tooLarge(maxStreamedBytes)}
	case body.err != nil:
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Err: body.err}
	case errors.Is(err, io.EOF) && body.n == 0:
		return nil // an empty answer, which Offsets reads as no offsets
	}
	return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
}

// bodyReader remembers how much was read and the first read error, which
// json.Decoder would otherwise pass off as a syntax error.
type bodyReader struct {
	r   io.Reader
	n   int64
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// callbackError carries fn's error out of the decoder untouched.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// decodeSourceOffsets walks {"offsets": [entry, ...]} decoding one entry
// at a time. It accepts what json.Unmarshal into Offsets' body accepts:
// keys of the outer object match case-insensitively, other keys and null
// are ignored, and anything after the object is an error.
func decodeSourceOffsets(dec *json.Decoder, fn func(cluster, topic string, partition int32, offset int64) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != nil {
		if tok != json.Delim('{') {
			return fmt.Errorf("want an object, found %v", tok)
		}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			if k, _ := key.(string); !strings.EqualFold(k, "offsets") {
				if err := dec.Decode(&skipValue{}); err != nil {
					return err
				}
				continue
			}
			if err := decodeOffsetList(dec, fn); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing brace
			return err
		}
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return err
		}
		return fmt.Errorf("%v after the top-level value", tok)
	}
	return nil
}

func decodeOffsetList(dec *json.Decoder, fn func(cluster, topic string, partition int32, offset int64) error) error {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("offsets: want an array, found %v", tok)
	}
	var e sourceOffset
	for dec.More() {
		// Entries share their cluster and often their topic: the strings
		// of the previous entry are reused instead of allocated again.
		e = sourceOffset{Partition: sourceOffsetPartition{
			Cluster: jsonString{prev: e.Partition.Cluster.v},
			Topic:   jsonString{prev: e.Partition.Topic.v},
		}}
		if err := dec.Decode(&e); err != nil {
			return err
		}
		p, o := e.Partition, e.Offset
		if !p.Cluster.ok || !p.Topic.ok || !p.Partition.ok || !o.Offset.ok ||
			p.Partition.v < math.MinInt32 || p.Partition.v > math.MaxInt32 {
			continue
		}
		if err := fn(p.Cluster.v, p.Topic.v, int32(p.Partition.v), o.Offset.v); err != nil {
			return &callbackError{err}
		}
	}
	_, err = dec.Token() // the closing bracket
	return err
}

// sourceOffset is one entry of MM2's source offsets.
type sourceOffset struct {
	Partition sourceOffsetPartition `json:"partition"`
	Offset    struct {
		Offset jsonInt `json:"offset"`
	} `json:"offset"`
}

type sourceOffsetPartition struct {
	Cluster   jsonString `json:"cluster"`
	Topic     jsonString `json:"topic"`
	Partition jsonInt    `json:"partition"`
}

// jsonString takes any JSON value and keeps it when it is a string. prev
// is a string to reuse when the value is the same.
type jsonString struct {
	v, prev string
	ok      bool
}

func (s *jsonString) UnmarshalJSON(b []byte) error {
	s.v, s.ok = "", false
	if len(b) < 2 || b[0] != '"' {
		return nil
	}
	// The decoder has checked the syntax: without escapes and with valid
	// UTF-8 (which json would otherwise replace), the bytes inside the
	// quotes are the string.
	if raw := b[1 : len(b)-1]; bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		if string(raw) == s.prev {
			s.v = s.prev
		} else {
			s.v = string(raw)
		}
		s.ok = true
		return nil
	}
	s.ok = true
	return json.Unmarshal(b, &s.v)
}

// jsonInt takes any JSON value and keeps it when it is a whole number
// that fits an int64, written as an integer or not (1e3 is 1000).
type jsonInt struct {
	v  int64
	ok bool
}

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	*n = jsonInt{}
	if len(b) == 0 || b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		return nil
	}
	lit := string(b)
	if v, err := strconv.ParseInt(lit, 10, 64); err == nil {
		*n = jsonInt{v, true}
		return nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err == nil && f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		*n = jsonInt{int64(f), true}
	}
	return nil
}

// skipValue reads past a JSON value without keeping it.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }
