package metrics

import (
	"bytes"
	"math"
	"strconv"
)

type aggKind uint8

const (
	aggSum aggKind = iota
	aggMax
	aggMin
)

// reduction chooses how per-partition series fold into one per topic:
// latencies and ages (and their max/min/avg statistics) keep the worst
// partition, lead keeps the smallest (the partition closest to losing data
// to retention), and everything else (counts, byte counts, rates, lags)
// adds up to the topic's total.
func reduction(name []byte) aggKind {
	if bytes.Contains(name, []byte("records_lead")) {
		return aggMin
	}
	base := name
	for _, s := range [...]string{"_max", "_min", "_avg"} {
		if bytes.HasSuffix(base, []byte(s)) {
			base = base[:len(base)-len(s)]
			break
		}
	}
	if bytes.HasSuffix(base, []byte("_ms")) || bytes.HasSuffix(base, []byte("_seconds")) ||
		bytes.Contains(base, []byte("latency")) || bytes.Contains(base, []byte("_age")) {
		return aggMax
	}
	return aggSum
}

// flushFamily writes the reduced series of the family that just ended.
func (p *Processor) flushFamily() {
	for i := range p.agg.series {
		s := &p.agg.series[i]
		w := p.out
		w.WriteString(s.key[:s.nameLen])
		labels := s.key[s.nameLen+1:]
		if len(labels) > 0 || len(p.prefix) > 0 {
			w.WriteByte('{')
			w.Write(p.prefix)
			if len(labels) > 0 && len(p.prefix) > 0 {
				w.WriteByte(',')
			}
			w.WriteString(labels)
			w.WriteByte('}')
		}
		w.WriteByte(' ')
		v := s.v
		if s.n == 0 {
			v = math.NaN()
		}
		p.numBuf = appendValue(p.numBuf[:0], v)
		w.Write(p.numBuf)
		w.WriteByte('\n')
		p.res.Written++
	}
	p.agg.reset()
}

func appendValue(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

type aggSeries struct {
	key     string // name, 0xff, rendered labels
	nameLen int
	kind    aggKind
	n       int // values that were not NaN
	v       float64
}

// aggregator holds the reduced series of one family, in first-seen order.
type aggregator struct {
	index  map[string]int
	series []aggSeries
}

func (a *aggregator) reset() {
	clear(a.index)
	a.series = a.series[:0]
}

func (a *aggregator) add(key []byte, nameLen int, kind aggKind, v float64) {
	idx, ok := a.index[string(key)]
	if !ok {
		k := string(key)
		idx = len(a.series)
		a.index[k] = idx
		a.series = append(a.series, aggSeries{key: k, nameLen: nameLen, kind: kind})
	}
	s := &a.series[idx]
	if math.IsNaN(v) {
		return
	}
	switch {
	case s.n == 0:
		s.v = v
	case s.kind == aggSum:
		s.v += v
	case s.kind == aggMax && v > s.v:
		s.v = v
	case s.kind == aggMin && v < s.v:
		s.v = v
	}
	s.n++
}
