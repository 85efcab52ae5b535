package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mm2-fargate/mm2-ecs/sidecar/lag"
)

// LagSource is what the lag collector reads at each scrape; *lag.Monitor
// is one.
type LagSource interface {
	// Status is the latest measurement and how it went; ok is false
	// when this sidecar does not export lag (it does not lead).
	Status() (s lag.Status, ok bool)
}

// LagCollector exports the latest lag measurement: backlog per topic and
// partition, group verdicts, migration readiness and the measurement's own
// health. It only reads what package lag measured in the background, so
// that a scrape never waits for Kafka; a follower exports nothing.
type LagCollector struct {
	src LagSource

	descTopic, descPartition, descVerdict, descBehind, descReady *prometheus.Desc
	descSkipped                                                  *prometheus.Desc
	descTS, descAge, descUp, descError                           *prometheus.Desc
	descItemErrors, descRequests, descInterval                   *prometheus.Desc
	descDuration                                                 *prometheus.Desc
}

// NewLagCollector returns the collector of src's measurements.
func NewLagCollector(src LagSource) *LagCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("connect_sidecar_"+name, help, labels, nil)
	}
	return &LagCollector{
		src:            src,
		descTopic:      d("topic_lag_records", "Records of a source topic not yet copied by MirrorMaker 2.", "topic"),
		descPartition:  d("partition_lag_records", "Records of a source partition not yet copied by MirrorMaker 2.", "topic", "partition"),
		descVerdict:    d("group_verdict", "Cutover readiness of a consumer group: 1 for its current verdict.", "group", "verdict"),
		descBehind:     d("group_records_behind", "Records a consumer group would consume twice if it moved to the target now.", "group"),
		descSkipped:    d("group_records_skipped", "Records a consumer group would never read if it moved to the target now (rewound or target-ahead).", "group"),
		descReady:      d("migration_ready", "1 when a fresh lag measurement finds nothing left to copy and every covered consumer group synced."),
		descTS:         d("lag_measurement_timestamp_seconds", "Unix time of the latest complete lag measurement."),
		descAge:        d("lag_measurement_age_seconds", "Seconds since the latest complete lag measurement (since start when none)."),
		descUp:         d("lag_up", "1 when the latest lag measurement reached the cluster.", "cluster"),
		descItemErrors: d("lag_items_in_error", "Items the latest lag measurement could not read (shown as unknown), by kind of item and reason.", "item", "reason"),
		descRequests:   d("lag_measurement_requests", "Kafka requests the latest lag measurement sent to the cluster.", "cluster"),
		descInterval:   d("lag_interval_seconds", "Configured time between lag measurements (SIDECAR_LAG_INTERVAL)."),
		descError:      d("lag_error", "1 for why the latest lag measurement could not use a cluster (reason: authentication, broker_certificate_untrusted, client_certificate_expired, client_certificate_rejected, authorization, client_settings, unreachable, other); absent after a success.", "cluster", "reason"),
		descDuration:   d("lag_measurement_duration_seconds", "Duration of lag measurements by phase (connect_offsets, source_offsets, source_groups, checkpoints, target_offsets) and in total, failed ones included.", "phase"),
	}
}

// Describe sends the descriptors of every metric.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.descTopic, c.descPartition, c.descVerdict, c.descBehind, c.descSkipped, c.descReady, c.descTS, c.descAge, c.descUp, c.descItemErrors, c.descRequests, c.descInterval, c.descError, c.descDuration} {
		ch <- d
	}
}

// Collect exports the latest measurement; nothing unless leader.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	st, ok := c.src.Status()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.descInterval, prometheus.GaugeValue, st.Interval.Seconds())
	for phase, d := range st.Durations {
		ch <- prometheus.MustNewConstHistogram(c.descDuration, d.Count, d.Sum, d.Buckets, phase)
	}
	for alias, up := range st.Up {
		ch <- prometheus.MustNewConstMetric(c.descUp, prometheus.GaugeValue, boolValue(up), alias)
	}
	for alias, reason := range st.Failures {
		ch <- prometheus.MustNewConstMetric(c.descError, prometheus.GaugeValue, 1, alias, string(reason))
	}
	if st.Latest == nil {
		ch <- prometheus.MustNewConstMetric(c.descAge, prometheus.GaugeValue, st.Now.Sub(st.Started).Seconds())
		return
	}
	s := st.Latest
	ch <- prometheus.MustNewConstMetric(c.descTS, prometheus.GaugeValue, float64(s.Time.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(c.descAge, prometheus.GaugeValue, st.Now.Sub(s.Time).Seconds())
	ch <- prometheus.MustNewConstMetric(c.descReady, prometheus.GaugeValue, boolValue(st.Fresh && s.Ready))
	for alias, n := range s.Requests {
		ch <- prometheus.MustNewConstMetric(c.descRequests, prometheus.GaugeValue, float64(n), alias)
	}
	for _, e := range s.ItemErrors {
		ch <- prometheus.MustNewConstMetric(c.descItemErrors, prometheus.GaugeValue, float64(e.Count), e.Item, e.Reason)
	}
	// A lag that leaves out unknown partitions is not exported: its series
	// goes stale and lag_items_in_error says why.
	for _, t := range s.Topics {
		if t.LagKnown {
			ch <- prometheus.MustNewConstMetric(c.descTopic, prometheus.GaugeValue, float64(t.Lag), t.Topic)
		}
		for p, n := range t.Partitions {
			if n >= 0 {
				ch <- prometheus.MustNewConstMetric(c.descPartition, prometheus.GaugeValue, float64(n), t.Topic, strconv.Itoa(p))
			}
		}
	}
	for _, g := range s.Groups {
		for _, v := range lag.Verdicts() {
			ch <- prometheus.MustNewConstMetric(c.descVerdict, prometheus.GaugeValue, boolValue(g.Verdict == v), g.Group, string(v))
		}
		ch <- prometheus.MustNewConstMetric(c.descBehind, prometheus.GaugeValue, float64(g.RecordsBehind), g.Group)
		ch <- prometheus.MustNewConstMetric(c.descSkipped, prometheus.GaugeValue, float64(g.RecordsSkipped), g.Group)
	}
}
