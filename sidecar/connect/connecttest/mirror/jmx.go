package mirror

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Series names as the Connect image's JMX exporter rules produce them.
var (
	descLeader      = prometheus.NewDesc("kafka_connect_worker_rebalance_leader", "Kafka Connect worker rebalance leader (leader-name)", []string{"leader_name"}, nil)
	descRebalancing = prometheus.NewDesc("kafka_connect_worker_rebalance_rebalancing", "Whether the worker is rebalancing (1) or not (0)", nil, nil)
	descTaskCount   = prometheus.NewDesc("kafka_connect_worker_task_count", "Tasks run by the worker", nil, nil)
	descTaskStatus  = prometheus.NewDesc("kafka_connect_connector_task_status", "Connector task status", []string{"connector", "task", "status"}, nil)
	descPoll        = prometheus.NewDesc("kafka_connect_source_task_source_record_poll_total", "Records polled by the source task", []string{"connector", "task"}, nil)
	descWrite       = prometheus.NewDesc("kafka_connect_source_task_source_record_write_total", "Records written by the source task", []string{"connector", "task"}, nil)
	descLag         = prometheus.NewDesc("kafka_consumer_fetch_manager_records_lag", "The latest lag of the partition", []string{"client_id", "topic", "partition"}, nil)
	descLagMax      = prometheus.NewDesc("kafka_consumer_fetch_manager_records_lag_max", "The maximum lag in terms of number of records for any partition", []string{"client_id"}, nil)
	descConsumed    = prometheus.NewDesc("kafka_consumer_fetch_manager_bytes_consumed_total", "The total number of bytes consumed", []string{"client_id"}, nil)
	descSend        = prometheus.NewDesc("kafka_producer_record_send_total", "The total number of records sent", []string{"client_id"}, nil)
	descSendErr     = prometheus.NewDesc("kafka_producer_record_error_total", "The total number of record sends that resulted in errors", []string{"client_id"}, nil)
	descSendBytes   = prometheus.NewDesc("kafka_producer_byte_total", "The total number of bytes sent", []string{"client_id"}, nil)
	descCheckpoint  = checkpointDescs()
	descMM2         = mm2Descs()
)

var mm2Labels = []string{"source", "target", "topic", "partition"}

type mm2Set struct {
	count, bytes, rate                                           *prometheus.Desc
	age, ageMax, ageMin, ageAvg, latency, latMax, latMin, latAvg *prometheus.Desc
}

func mm2Descs() mm2Set {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("kafka_connect_mirror_source_connector_"+name, help, mm2Labels, nil)
	}
	return mm2Set{
		count:   d("record_count", "Number of source records replicated to the target cluster"),
		bytes:   d("byte_count", "Number of bytes replicated to the target cluster"),
		rate:    d("byte_rate", "Average number of bytes replicated per second"),
		age:     d("record_age_ms", "The age of incoming source records when replicated to the target cluster"),
		ageMax:  d("record_age_ms_max", "The max age of incoming source records when replicated to the target cluster"),
		ageMin:  d("record_age_ms_min", "The min age of incoming source records when replicated to the target cluster"),
		ageAvg:  d("record_age_ms_avg", "The average age of incoming source records when replicated to the target cluster"),
		latency: d("replication_latency_ms", "Time it takes records to replicate from source to target cluster"),
		latMax:  d("replication_latency_ms_max", "Max time it takes records to replicate from source to target cluster"),
		latMin:  d("replication_latency_ms_min", "Min time it takes records to replicate from source to target cluster"),
		latAvg:  d("replication_latency_ms_avg", "Average time it takes records to replicate from source to target cluster"),
	}
}

type cpSet struct{ latency, max, min, avg *prometheus.Desc }

func checkpointDescs() cpSet {
	labels := []string{"source", "target", "group", "topic", "partition"}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("kafka_connect_mirror_checkpoint_connector_"+name, help, labels, nil)
	}
	return cpSet{
		latency: d("checkpoint_latency_ms", "Time it takes consumer group offsets to replicate from source to target cluster"),
		max:     d("checkpoint_latency_ms_max", "Max time it takes consumer group offsets to replicate from source to target cluster"),
		min:     d("checkpoint_latency_ms_min", "Min time it takes consumer group offsets to replicate from source to target cluster"),
		avg:     d("checkpoint_latency_ms_avg", "Average time it takes consumer group offsets to replicate from source to target cluster"),
	}
}

// workerCollector renders one worker's view at scrape time.
type workerCollector struct {
	r      *Replicator
	worker string
}

// Describe lists every series the view can show. It cannot be derived
// from one Collect: a worker with no tasks yet would describe no task series,
// and the registry would then refuse them once tasks arrive.
func (w *workerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descLeader, descRebalancing, descTaskCount, descTaskStatus, descPoll, descWrite,
		descLag, descLagMax, descConsumed, descSend, descSendErr, descSendBytes,
		descMM2.count, descMM2.bytes, descMM2.rate,
		descMM2.age, descMM2.ageMax, descMM2.ageMin, descMM2.ageAvg,
		descMM2.latency, descMM2.latMax, descMM2.latMin, descMM2.latAvg,
		descCheckpoint.latency, descCheckpoint.max, descCheckpoint.min, descCheckpoint.avg,
	} {
		ch <- d
	}
}

func (w *workerCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if leader, ok := w.r.c.Leader(); ok {
		gauge(descLeader, 1, leader)
	}
	gauge(descRebalancing, 0)

	mine := map[string]map[int]string{} // connector -> task -> state
	n := 0
	for _, t := range w.r.c.Tasks() {
		if t.WorkerID != w.worker {
			continue
		}
		n++
		if mine[t.Connector] == nil {
			mine[t.Connector] = map[int]string{}
		}
		mine[t.Connector][t.ID] = t.State
		gauge(descTaskStatus, 1, t.Connector, strconv.Itoa(t.ID), strings.ToLower(t.State))
	}
	gauge(descTaskCount, float64(n))

	w.r.mu.Lock()
	sources := make([]*sourceRunner, 0, len(w.r.sources))
	for _, s := range w.r.sources {
		sources = append(sources, s)
	}
	cps := make([]*checkpointRunner, 0, len(w.r.checkpoints))
	for _, k := range w.r.checkpoints {
		cps = append(cps, k)
	}
	w.r.mu.Unlock()

	now := time.Now()
	for _, s := range sources {
		if tasks, ok := mine[s.name]; ok {
			s.collect(now, tasks, gauge, counter)
		}
	}
	for _, k := range cps {
		if tasks, ok := mine[k.name]; ok {
			k.collect(tasks, gauge)
		}
	}
}

type emitFunc func(d *prometheus.Desc, v float64, labels ...string)

// collect emits the metrics of this connector's tasks on one worker. A
// task that is not RUNNING has closed its consumer, so only its counters
// remain.
func (s *sourceRunner) collect(now time.Time, tasks map[int]string, gauge, counter emitFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID := s.consumerID()
	lagMax, consumed, any := 0.0, 0.0, false
	var sent, sentBytes float64
	for id := range tasks {
		c := s.tasks[id]
		if c == nil {
			c = &taskCounters{}
		}
		task := strconv.Itoa(id)
		counter(descPoll, float64(c.polled), s.name, task)
		counter(descWrite, float64(c.written), s.name, task)
		sent += float64(c.written)
		sentBytes += float64(c.bytes)
	}
	for k, p := range s.parts {
		task, ok := s.assign[k]
		if !ok {
			continue
		}
		if _, onWorker := tasks[task]; !onWorker {
			continue
		}
		part := strconv.Itoa(int(k.partition))
		labels := []string{s.srcAlias, s.tgtAlias, k.topic, part}
		if s.consuming[k] {
			lag := float64(max(p.end-p.next, 0))
			gauge(descLag, lag, clientID, k.topic, part)
			lagMax, any = math.Max(lagMax, lag), true
			consumed += float64(p.bytes)
		}
		if p.records == 0 {
			continue
		}
		gauge(descMM2.count, float64(p.records), labels...)
		gauge(descMM2.bytes, float64(p.bytes), labels...)
		last, mx, mn, avg, rate := p.age.stats(now)
		gauge(descMM2.rate, rate, labels...)
		gauge(descMM2.age, last, labels...)
		gauge(descMM2.ageMax, mx, labels...)
		gauge(descMM2.ageMin, mn, labels...)
		gauge(descMM2.ageAvg, avg, labels...)
		last, mx, mn, avg, _ = p.latency.stats(now)
		gauge(descMM2.latency, last, labels...)
		gauge(descMM2.latMax, mx, labels...)
		gauge(descMM2.latMin, mn, labels...)
		gauge(descMM2.latAvg, avg, labels...)
	}
	if any {
		gauge(descLagMax, lagMax, clientID)
		counter(descConsumed, consumed, clientID)
	}
	producer := "connector-producer-" + s.name
	counter(descSend, sent, producer)
	counter(descSendErr, float64(s.sendErrors), producer)
	counter(descSendBytes, sentBytes, producer)
}

func (k *checkpointRunner) collect(tasks map[int]string, gauge emitFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, ms := range k.latency {
		if _, onWorker := tasks[k.task[key.group]]; !onWorker {
			continue
		}
		labels := []string{k.srcAlias, k.tgtAlias, key.group, key.topic, strconv.Itoa(int(key.partition))}
		gauge(descCheckpoint.latency, ms, labels...)
		gauge(descCheckpoint.max, ms, labels...)
		gauge(descCheckpoint.min, ms, labels...)
		gauge(descCheckpoint.avg, ms, labels...)
	}
}
