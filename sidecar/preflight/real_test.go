package preflight

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"
	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// TestOnRealBrokers runs the checks kfake cannot model against real KRaft
// brokers: the target's timestamp bounds (kfake refuses the
// log.message.timestamp.* settings) and its broker-level message.max.bytes.
func TestOnRealBrokers(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("starts two Kafka brokers (-short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	rt := externaltool.KafkaRuntime(t, repo)
	brokers := map[string]*realkafka.Broker{}
	for name, props := range map[string]map[string]string{
		"source": nil,
		"target": {
			"log.message.timestamp.before.max.ms": "3600000", // one hour
			"message.max.bytes":                   "65536",
		},
	} {
		b, err := rt.StartBroker(ctx, realkafka.BrokerOptions{Name: name, Dir: t.TempDir(), Props: props})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Stop(20 * time.Second) })
		brokers[name] = b
	}
	src, err := brokers["source"].Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	adm := kadm.NewClient(src)
	topic(t, adm, "fresh", 2, nil)
	topic(t, adm, "archive", 2, nil)
	produce(t, src, "fresh", 2, time.Now().Add(-time.Minute), []byte("f"))
	produce(t, src, "archive", 1, time.Now().Add(-48*time.Hour), []byte("a"))

	connectorFor := func(name, class, topics string) desired.Connector {
		return connector(name, map[string]string{
			"name":                                  name,
			"connector.class":                       class,
			"source.cluster.alias":                  "src",
			"target.cluster.alias":                  "tgt",
			"source.cluster.bootstrap.servers":      brokers["source"].Bootstrap,
			"target.cluster.bootstrap.servers":      brokers["target"].Bootstrap,
			"replication.policy.class":              "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
			"topics":                                topics,
			"tasks.max":                             "2",
			"offset-syncs.topic.replication.factor": "1",
			"checkpoints.topic.replication.factor":  "1",
			"sync.group.offsets.enabled":            "true",
		}, nil)
	}
	tests := []struct {
		name      string
		topics    string
		check     string
		status    Status
		fragments []string
	}{
		{"timestamps within the target's bound", "fresh", CheckTimestamps, Pass,
			[]string{"2 partitions with records", "log.message.timestamp.before.max.ms=3600000"}},
		{"a record older than the target accepts", "fresh, archive", CheckTimestamps, Fail,
			[]string{"1 of 4 partitions", "archive[0]", "log.message.timestamp.before.max.ms=3600000"}},
		{"source topics larger than the target broker's message.max.bytes", "fresh", CheckMessageSize, Fail,
			[]string{"message.max.bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := results(t, Input{
				Connectors: []desired.Connector{
					connectorFor("mm2-msc", mm2.SourceConnectorClass, tt.topics),
					connectorFor("mm2-cpc", mm2.CheckpointConnectorClass, tt.topics),
				},
				Worker: map[string]string{},
				Now:    time.Now(),
			})
			expect(t, got, tt.check, tt.status, tt.fragments...)
		})
	}
}
