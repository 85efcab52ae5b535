// Package cloudwatchtest reads PutMetricData requests the way the current
// AWS SDK sends them (Smithy RPC v2 CBOR, gzip above the SDK's compression
// threshold), for test servers that stand in for CloudWatch. It does not
// answer them: each server decides its own answers.
package cloudwatchtest

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// Path is where the SDK posts PutMetricData.
const Path = "/service/GraniteServiceVersion20100801/operation/PutMetricData"

// Put is one PutMetricData request.
type Put struct {
	// Namespace is the request's namespace.
	Namespace string
	// Datums are the metric data, in the request's order.
	Datums []Datum
	// Gzip says the body came gzip-compressed.
	Gzip bool
	// RawBytes is the size of the CBOR payload after decompression.
	RawBytes int
}

// Datum is one member of MetricData.
type Datum struct {
	// Name is the MetricName.
	Name string
	// Dimensions are the datum's dimensions, by name.
	Dimensions map[string]string
	// Unit is the Unit; empty when the request has none.
	Unit string
	// Value is the Value.
	Value float64
	// Time is the Timestamp, to the millisecond.
	Time time.Time
	// Resolution is the StorageResolution; 0 when the request has none.
	Resolution uint64
}

// ReadPut reads and decodes the body of r. The error says what is not as
// the SDK would send it.
func ReadPut(r *http.Request) (Put, error) {
	var body io.Reader = r.Body
	gz := r.Header.Get("Content-Encoding") == "gzip"
	if gz {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return Put{}, fmt.Errorf("gzip: %w", err)
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return Put{}, fmt.Errorf("read body: %w", err)
	}
	p, err := DecodePut(raw)
	p.Gzip, p.RawBytes = gz, len(raw)
	return p, err
}

// DecodePut decodes a PutMetricData CBOR payload.
func DecodePut(raw []byte) (Put, error) {
	v, err := cbor.Decode(raw)
	if err != nil {
		return Put{}, fmt.Errorf("decode cbor: %w", err)
	}
	m, ok := v.(cbor.Map)
	if !ok {
		return Put{}, fmt.Errorf("body is %T, want a map", v)
	}
	var p Put
	if ns, ok := m["Namespace"].(cbor.String); ok {
		p.Namespace = string(ns)
	}
	list, _ := m["MetricData"].(cbor.List)
	for i, item := range list {
		d, err := decodeDatum(item)
		if err != nil {
			return Put{}, fmt.Errorf("MetricData[%d]: %w", i, err)
		}
		p.Datums = append(p.Datums, d)
	}
	return p, nil
}

func decodeDatum(item cbor.Value) (Datum, error) {
	dm, ok := item.(cbor.Map)
	if !ok {
		return Datum{}, fmt.Errorf("%T, want a map", item)
	}
	name, ok := dm["MetricName"].(cbor.String)
	if !ok {
		return Datum{}, errors.New("no MetricName")
	}
	d := Datum{Name: string(name), Dimensions: map[string]string{}}
	if u, ok := dm["Unit"].(cbor.String); ok {
		d.Unit = string(u)
	}
	var err error
	if d.Value, err = number(dm["Value"]); err != nil {
		return Datum{}, fmt.Errorf("Value: %w", err)
	}
	if r, ok := dm["StorageResolution"].(cbor.Uint); ok {
		d.Resolution = uint64(r)
	}
	tag, ok := dm["Timestamp"].(*cbor.Tag)
	if !ok || tag.ID != 1 {
		return Datum{}, fmt.Errorf("Timestamp = %#v, want tag 1 (epoch seconds)", dm["Timestamp"])
	}
	sec, err := number(tag.Value)
	if err != nil {
		return Datum{}, fmt.Errorf("Timestamp: %w", err)
	}
	d.Time = time.UnixMilli(int64(math.Round(sec * 1000)))
	dims, _ := dm["Dimensions"].(cbor.List)
	for _, x := range dims {
		dd, _ := x.(cbor.Map)
		n, nok := dd["Name"].(cbor.String)
		v, vok := dd["Value"].(cbor.String)
		if !nok || !vok {
			return Datum{}, fmt.Errorf("dimension %#v, want Name and Value strings", x)
		}
		d.Dimensions[string(n)] = string(v)
	}
	return d, nil
}

func number(v cbor.Value) (float64, error) {
	switch n := v.(type) {
	case cbor.Float64:
		return float64(n), nil
	case cbor.Float32:
		return float64(n), nil
	case cbor.Uint:
		return float64(n), nil
	case cbor.NegInt:
		return -float64(n), nil
	}
	return 0, fmt.Errorf("not a number: %#v", v)
}
