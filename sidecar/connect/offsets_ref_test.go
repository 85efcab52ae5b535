package connect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The decoder SourceOffsets used before decodeSourceOffsets: each entry
// decoded by encoding/json's Decoder into a struct. It is the reference
// FuzzDecodeSourceOffsets holds decodeSourceOffsets to, and the baseline
// of BenchmarkDecodeSourceOffsets.

// refDecodeSourceOffsets walks {"offsets": [entry, ...]} decoding one entry
// at a time. It accepts what json.Unmarshal into Offsets' body accepts:
// keys of the outer object match case-insensitively, other keys and null
// are ignored, and anything after the object is an error.
func refDecodeSourceOffsets(dec *json.Decoder, fn func(cluster, topic string, partition int32, offset int64) error) error {
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
				if err := dec.Decode(&refSkipValue{}); err != nil {
					return err
				}
				continue
			}
			if err := refDecodeOffsetList(dec, fn); err != nil {
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

func refDecodeOffsetList(dec *json.Decoder, fn func(cluster, topic string, partition int32, offset int64) error) error {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("offsets: want an array, found %v", tok)
	}
	var e refSourceOffset
	for dec.More() {
		// Entries share their cluster and often their topic: the strings
		// of the previous entry are reused instead of allocated again.
		e = refSourceOffset{Partition: refSourceOffsetPartition{
			Cluster: refJSONString{prev: e.Partition.Cluster.v},
			Topic:   refJSONString{prev: e.Partition.Topic.v},
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

// refSourceOffset is one entry of MM2's source offsets.
type refSourceOffset struct {
	Partition refSourceOffsetPartition `json:"partition"`
	Offset    struct {
		Offset refJSONInt `json:"offset"`
	} `json:"offset"`
}

type refSourceOffsetPartition struct {
	Cluster   refJSONString `json:"cluster"`
	Topic     refJSONString `json:"topic"`
	Partition refJSONInt    `json:"partition"`
}

// refJSONString takes any JSON value and keeps it when it is a string. prev
// is a string to reuse when the value is the same.
type refJSONString struct {
	v, prev string
	ok      bool
}

func (s *refJSONString) UnmarshalJSON(b []byte) error {
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

// refJSONInt takes any JSON value and keeps it when it is a whole number
// that fits an int64, written as an integer or not (1e3 is 1000).
type refJSONInt struct {
	v  int64
	ok bool
}

func (n *refJSONInt) UnmarshalJSON(b []byte) error {
	*n = refJSONInt{}
	if len(b) == 0 || b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		return nil
	}
	lit := string(b)
	if v, err := strconv.ParseInt(lit, 10, 64); err == nil {
		*n = refJSONInt{v, true}
		return nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err == nil && f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		*n = refJSONInt{int64(f), true}
	}
	return nil
}

// refSkipValue reads past a JSON value without keeping it.
type refSkipValue struct{}

func (*refSkipValue) UnmarshalJSON([]byte) error { return nil }
