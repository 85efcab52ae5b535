package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Names the processor recognises while streaming. They follow the JMX
// exporter rules the Connect image ships (see the metric-name contract).
const (
	// leaderMetric carries Connect's leader-name as a label. It has no
	// "_info" suffix because the JMX exporter 1.x agent strips that suffix
	// from every rule's name.
	leaderMetric     = "kafka_connect_worker_rebalance_leader"
	recordsLagMetric = "kafka_consumer_fetch_manager_records_lag"
	mm2SourcePrefix  = "kafka_connect_mirror_source_connector_"

	// replicationConsumerSuffix identifies the consumers of MM2 source tasks.
	// MirrorSourceTask creates its own KafkaConsumer (not one managed by the
	// Connect runtime) from MirrorSourceConfig.sourceConsumerConfig(
	// "replication-consumer"), and MirrorConnectorConfig.addClientId sets
	// client.id to "[user client.id|]<source>-><target>|<connector>|replication-consumer".
	// The consumer's fetch-manager MBeans carry that client.id verbatim, so
	// the client_id label ends with this suffix for every MM2 source task
	// consumer and for no other consumer in the worker.
	replicationConsumerSuffix = "|replication-consumer"

	// ownPrefix is the sidecar's own namespace; passthrough families with this
	// prefix are dropped so that the two halves of /metrics never collide.
	ownPrefix = "connect_sidecar_"

	// DefaultMaxLineBytes bounds one exposition line (a huge label value is
	// still passed through below it); longer lines are skipped and counted.
	DefaultMaxLineBytes = 1 << 20
)

// ProcessResult is what one pass over an exposition saw, including the
// values the sidecar captures for CloudWatch and the leader check.
type ProcessResult struct {
	// Samples counts the well-formed sample lines read.
	Samples int
	// Written counts the samples written, after any per-topic reduction.
	Written int
	// Malformed counts the lines skipped because they are not valid text
	// exposition (or are longer than DefaultMaxLineBytes).
	Malformed int
	// Dropped counts the lines skipped because their name is in the
	// sidecar's own connect_sidecar_ namespace.
	Dropped int

	// LeaderURL is the leader_name label of Connect's rebalance leader
	// metric; empty when absent.
	LeaderURL string
	// BacklogRecords is the sum of records-lag over MM2 source task consumers.
	BacklogRecords float64
	// MaxRecordAgeMs is the largest MM2 source record age (or its _max
	// statistic), in milliseconds; NaN when no MM2 source task reported a
	// finite number.
	MaxRecordAgeMs float64
	// MaxReplicationLatencyMs is the largest MM2 source replication latency
	// (or its _max statistic), in milliseconds; NaN when no MM2 source task
	// reported a finite number.
	MaxReplicationLatencyMs float64
}

const (
	seenHelp uint8 = 1 << iota
	seenType
)

// Processor rewrites a Prometheus text exposition line by line. It keeps
// in memory only the family names it has seen and, in per-topic mode, the
// reduced series of the current family. A Processor is reused across scrapes
// but is not safe for concurrent use.
type Processor struct {
	prefix   []byte // task labels rendered as `a="x",b="y"`
	own      [][]byte
	perTopic bool
	maxLine  int

	in         *bufio.Reader
	out        *bufio.Writer
	long       []byte
	labels     []labelSpan
	seen       map[string]uint8
	family     []byte
	familyType []byte
	keyBuf     []byte
	numBuf     []byte
	// reduceName and reduceKind remember the reduction of the last reduced
	// name: samples of one name come together, and the rule is string work.
	reduceName []byte
	reduceKind aggKind
	agg        aggregator
	res        ProcessResult
}

// NewProcessor returns a processor adding labels to every sample. With
// perTopic, series carrying both a topic and a partition label are reduced
// to one series per remaining label set (see reduction for the rule).
func NewProcessor(labels TaskLabels, perTopic bool) *Processor {
	p := &Processor{
		perTopic: perTopic,
		maxLine:  DefaultMaxLineBytes,
		in:       bufio.NewReaderSize(nil, 64<<10),
		out:      bufio.NewWriterSize(nil, 64<<10),
		seen:     make(map[string]uint8),
		agg:      aggregator{index: make(map[string]int)},
	}
	for i, kv := range labels.pairs() {
		if i > 0 {
			p.prefix = append(p.prefix, ',')
		}
		p.prefix = append(p.prefix, kv[0]...)
		p.prefix = append(p.prefix, '=', '"')
		p.prefix = appendEscaped(p.prefix, kv[1])
		p.prefix = append(p.prefix, '"')
		p.own = append(p.own, []byte(kv[0]))
	}
	return p
}

// Process reads the exposition from r and writes the rewritten exposition
// to w. Only complete, valid lines are written; a read error ends the pass
// after the last complete line and is returned wrapped.
func (p *Processor) Process(r io.Reader, w io.Writer) (ProcessResult, error) {
	p.in.Reset(r)
	p.out.Reset(w)
	clear(p.seen)
	p.family = p.family[:0]
	p.familyType = p.familyType[:0]
	p.agg.reset()
	p.res = ProcessResult{MaxRecordAgeMs: math.NaN(), MaxReplicationLatencyMs: math.NaN()}
	defer func() {
		p.in.Reset(nil)
		p.out.Reset(nil)
	}()

	var readErr error
	for {
		line, err := p.in.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line, err = p.readLong(line)
		}
		if line != nil && (err == nil || errors.Is(err, io.EOF)) {
			p.line(line)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = fmt.Errorf("read exposition: %w", err)
			}
			break
		}
	}
	p.flushFamily()
	if err := p.out.Flush(); err != nil && readErr == nil {
		return p.res, fmt.Errorf("write exposition: %w", err)
	}
	return p.res, readErr
}

// readLong assembles a line longer than the read buffer. A line longer than
// maxLine is consumed and counted as malformed; nil is returned for it.
func (p *Processor) readLong(first []byte) ([]byte, error) {
	p.long = append(p.long[:0], first...)
	tooLong := false
	for {
		part, err := p.in.ReadSlice('\n')
		if !tooLong {
			if len(p.long)+len(part) > p.maxLine {
				tooLong = true
				p.long = p.long[:0]
			} else {
				p.long = append(p.long, part...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			p.res.Malformed++
			return nil, err
		}
		return p.long, err
	}
}

func (p *Processor) line(line []byte) {
	end := len(line)
	for end > 0 && (line[end-1] == '\n' || line[end-1] == '\r' || isBlank(line[end-1])) {
		end--
	}
	start := 0
	for start < end && isBlank(line[start]) {
		start++
	}
	if start == end {
		return
	}
	line = line[start:end]
	if line[0] == '#' {
		p.comment(line)
		return
	}
	p.sample(line)
}

func (p *Processor) ownName(name []byte) bool {
	return bytes.HasPrefix(name, []byte(ownPrefix))
}

// comment passes the first HELP and TYPE line of each family and drops
// every other comment.
func (p *Processor) comment(line []byte) {
	i := 1
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	rest := line[i:]
	var kind uint8
	switch {
	case bytes.HasPrefix(rest, []byte("HELP")) && (len(rest) == 4 || isBlank(rest[4])):
		kind = seenHelp
	case bytes.HasPrefix(rest, []byte("TYPE")) && (len(rest) == 4 || isBlank(rest[4])):
		kind = seenType
	default:
		return
	}
	rest = rest[4:]
	j := 0
	for j < len(rest) && isBlank(rest[j]) {
		j++
	}
	rest = rest[j:]
	n := scanMetricName(rest)
	if n == 0 || (n < len(rest) && !isBlank(rest[n])) {
		p.res.Malformed++
		return
	}
	name := rest[:n]
	var typ []byte
	if kind == seenType {
		typ = bytes.TrimLeft(rest[n:], " \t")
		switch string(typ) {
		case "counter", "gauge", "histogram", "summary", "untyped":
		default:
			p.res.Malformed++
			return
		}
	} else if !validHelp(rest[n:]) {
		p.res.Malformed++
		return
	}
	if p.ownName(name) {
		p.res.Dropped++
		return
	}
	if !bytes.Equal(name, p.family) {
		p.flushFamily()
		p.family = append(p.family[:0], name...)
		p.familyType = p.familyType[:0]
	}
	if kind == seenType {
		p.familyType = append(p.familyType[:0], typ...)
	}
	got, ok := p.seen[string(name)]
	if got&kind != 0 {
		return
	}
	if ok {
		p.seen[string(name)] = got | kind
	} else {
		p.seen[string(name)] = kind
	}
	p.out.Write(line)
	p.out.WriteByte('\n')
}

func (p *Processor) sample(line []byte) {
	n := scanMetricName(line)
	if n == 0 {
		p.res.Malformed++
		return
	}
	name := line[:n]
	i := n
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	p.labels = p.labels[:0]
	if i < len(line) && line[i] == '{' {
		end, ok := p.parseLabels(line, i+1)
		if !ok {
			p.res.Malformed++
			return
		}
		i = end
	}
	blank := i
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	if (i == blank && len(p.labels) > 0) || i == n || i == len(line) {
		p.res.Malformed++
		return
	}
	vs := i
	for i < len(line) && !isBlank(line[i]) {
		i++
	}
	v, err := strconv.ParseFloat(string(line[vs:i]), 64)
	if err != nil {
		p.res.Malformed++
		return
	}
	valueEnd := i
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	if i < len(line) {
		if !validTimestamp(line[i:]) {
			p.res.Malformed++
			return
		}
		valueEnd = len(line)
	}
	p.res.Samples++
	if p.ownName(name) {
		p.res.Dropped++
		return
	}
	if len(p.family) == 0 || !bytes.HasPrefix(name, p.family) || (len(name) > len(p.family) && name[len(p.family)] != '_') {
		p.flushFamily()
		p.family = append(p.family[:0], name...)
		p.familyType = p.familyType[:0]
	}
	conflict, clash := p.conflicts(line)
	if clash {
		p.res.Malformed++
		return
	}
	p.capture(name, line, v)
	if p.perTopic && string(p.familyType) != "histogram" && string(p.familyType) != "summary" {
		if part := p.labelIndex(line, "partition"); part >= 0 && p.labelIndex(line, "topic") >= 0 {
			p.keyBuf = append(p.keyBuf[:0], name...)
			p.keyBuf = append(p.keyBuf, 0xff)
			p.keyBuf = p.appendLabels(p.keyBuf, line, part, true)
			if !bytes.Equal(name, p.reduceName) {
				p.reduceName = append(p.reduceName[:0], name...)
				p.reduceKind = reduction(name)
			}
			p.agg.add(p.keyBuf, n, p.reduceKind, v)
			return
		}
	}
	p.writeSample(name, line, line[vs:valueEnd], conflict)
}

// capture records the values the sidecar reads from the scrape itself.
func (p *Processor) capture(name, line []byte, v float64) {
	switch {
	case string(name) == recordsLagMetric:
		c := p.labelIndex(line, "client_id")
		if c < 0 || p.labelIndex(line, "partition") < 0 || math.IsNaN(v) {
			return
		}
		l := p.labels[c]
		// Kafka quotes JMX property values with "->" and "|" in them; a rule
		// that does not strip the quotes leaves an escaped quote at the end.
		id := bytes.TrimSuffix(line[l.vs:l.ve], []byte(`\"`))
		if bytes.HasSuffix(id, []byte(replicationConsumerSuffix)) {
			p.res.BacklogRecords += v
		}
	case string(name) == leaderMetric:
		if k := p.labelIndex(line, "leader_name"); k >= 0 {
			l := p.labels[k]
			p.res.LeaderURL = unescapeLabel(line[l.vs:l.ve])
		}
	case bytes.HasPrefix(name, []byte(mm2SourcePrefix)):
		// Kafka reports NaN for a max over an empty window; neither NaN nor
		// an infinity is an age or a latency CloudWatch could store.
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		switch string(name[len(mm2SourcePrefix):]) {
		case "record_age_ms", "record_age_ms_max":
			p.res.MaxRecordAgeMs = maxIgnoringNaN(p.res.MaxRecordAgeMs, v)
		case "replication_latency_ms", "replication_latency_ms_max":
			p.res.MaxReplicationLatencyMs = maxIgnoringNaN(p.res.MaxReplicationLatencyMs, v)
		}
	}
}

func maxIgnoringNaN(cur, v float64) float64 {
	if math.IsNaN(cur) || v > cur {
		return v
	}
	return cur
}
