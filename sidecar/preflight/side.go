package preflight

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
)

// side is one cluster as a preflight sees it: a client built the way
// `status` builds it, and what one metadata request returned.
type side struct {
	c     kafka.Cluster
	cl    *kgo.Client
	adm   *kadm.Client
	certs *certLog

	err        error // metadata failed: unreachable or not authenticated
	brokers    []int32
	topics     map[string]*topicInfo
	clusterOps int32 // authorized operations on the cluster; opsUnknown when not reported
}

// topicInfo is a topic as metadata describes it.
type topicInfo struct {
	name    string
	id      [16]byte
	leaders []int32 // by partition
	ops     int32   // authorized operations; opsUnknown when not reported
	remote  string  // source topics: the name on the target
}

// opsUnknown is Kafka's "authorized operations not requested or not known".
const opsUnknown = int32(-2147483648)

func openSide(ctx context.Context, c kafka.Cluster, extra []kgo.Opt) (*side, error) {
	s := &side{c: c, certs: &certLog{}, clusterOps: opsUnknown}
	opts, err := c.ClientOpts(ctx)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ClientID("connect-sidecar-preflight"),
		kgo.DialTimeout(5*time.Second),
		kgo.RetryTimeout(10*time.Second),
		kgo.WithHooks(s.certs),
	)
	if s.cl, err = kgo.NewClient(append(opts, extra...)...); err != nil {
		return nil, err
	}
	s.adm = kadm.NewClient(s.cl)
	return s, nil
}

func (s *side) close() { s.cl.Close() }

// load reads every topic with its authorized operations, and the cluster's
// authorized operations. A failure here is the cluster's reach failure.
func (s *side) load(ctx context.Context) {
	req := kmsg.NewPtrMetadataRequest()
	req.IncludeTopicAuthorizedOperations = true
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		s.err = err
		return
	}
	for _, b := range resp.Brokers {
		s.brokers = append(s.brokers, b.NodeID)
	}
	sort.Slice(s.brokers, func(i, j int) bool { return s.brokers[i] < s.brokers[j] })
	s.topics = make(map[string]*topicInfo, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil || kerr.ErrorForCode(t.ErrorCode) != nil {
			continue
		}
		ti := &topicInfo{name: *t.Topic, id: t.TopicID, ops: t.AuthorizedOperations, leaders: make([]int32, len(t.Partitions))}
		for _, p := range t.Partitions {
			if int(p.Partition) < len(ti.leaders) {
				ti.leaders[p.Partition] = p.Leader
			}
		}
		s.topics[ti.name] = ti
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	if r, err := dc.RequestWith(ctx, s.cl); err == nil && kerr.ErrorForCode(r.ErrorCode) == nil {
		s.clusterOps = r.ClusterAuthorizedOperations
	}
}

// topicConfigs describes topics' configs in one request: key -> value
// (defaults included, as the broker applies them) by topic.
func (s *side) topicConfigs(ctx context.Context, topics []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	if len(topics) == 0 {
		return out, nil
	}
	rcs, err := s.adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, err
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			continue
		}
		out[rc.Name] = configMap(rc.Configs)
	}
	return out, nil
}

// brokerConfigs describes one broker's configs: a broker setting is the
// cluster's unless an operator set brokers apart.
func (s *side) brokerConfigs(ctx context.Context) (map[string]string, error) {
	if len(s.brokers) == 0 {
		return nil, fmt.Errorf("no brokers in metadata")
	}
	rcs, err := s.adm.DescribeBrokerConfigs(ctx, s.brokers[0])
	if err != nil {
		return nil, err
	}
	if len(rcs) == 0 {
		return nil, fmt.Errorf("broker %d: no configs returned", s.brokers[0])
	}
	if rcs[0].Err != nil {
		return nil, rcs[0].Err
	}
	return configMap(rcs[0].Configs), nil
}

func configMap(cs []kadm.Config) map[string]string {
	m := make(map[string]string, len(cs))
	for _, c := range cs {
		if c.Value != nil {
			m[c.Key] = *c.Value
		}
	}
	return m
}

// partitions is the number of partitions of a topic on this side, 0 when
// it does not exist.
func (s *side) partitions(topic string) int {
	if t, ok := s.topics[topic]; ok {
		return len(t.leaders)
	}
	return 0
}

// certLog keeps the certificate chains brokers presented, to judge their
// expiry without a second connection.
type certLog struct {
	mu     sync.Mutex
	chains map[string][]*x509.Certificate // by broker address
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (l *certLog) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, conn net.Conn, err error) {
	if err != nil || conn == nil {
		return
	}
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.chains == nil {
		l.chains = map[string][]*x509.Certificate{}
	}
	l.chains[net.JoinHostPort(meta.Host, fmt.Sprint(meta.Port))] = tc.ConnectionState().PeerCertificates
}

// earliest is the certificate that expires first among all chains seen.
func (l *certLog) earliest() (*x509.Certificate, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first *x509.Certificate
	for _, chain := range l.chains {
		for _, c := range chain {
			if first == nil || c.NotAfter.Before(first.NotAfter) {
				first = c
			}
		}
	}
	return first, first != nil
}
