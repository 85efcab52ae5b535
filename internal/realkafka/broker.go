package realkafka

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Broker is a single-node KRaft cluster: one kafka.Kafka process that is
// both broker and controller, listening on loopback.
type Broker struct {
	// Process is the broker's JVM: its name, log and Stop.
	*Process
	// Bootstrap is the PLAINTEXT listener, host:port.
	Bootstrap string
}

// BrokerOptions configure StartBroker.
type BrokerOptions struct {
	// Name labels the process in logs and errors ("source", "target").
	Name string
	// Dir holds the broker's data, config and logs.
	Dir string
	// Props are extra or overriding server properties.
	Props map[string]string
}

// StartBroker formats storage and starts a broker, returning once a client
// can read its metadata.
func (r *Runtime) StartBroker(ctx context.Context, o BrokerOptions) (*Broker, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	props := oneNode(o.Dir)
	maps.Copy(props, map[string]string{
		"listeners":                           fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", ports[0], ports[1]),
		"advertised.listeners":                fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", ports[0]),
		"listener.security.protocol.map":      "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"controller.quorum.bootstrap.servers": fmt.Sprintf("127.0.0.1:%d", ports[1]),
	})
	maps.Copy(props, o.Props)
	return r.launch(ctx, o.Name, o.Dir, props, fmt.Sprintf("127.0.0.1:%d", ports[0]))
}

// oneNode is what every broker of this package sets: a KRaft node that is
// its own controller, with replication factors of one and small thread
// pools, its data under dir. Listeners are the caller's.
func oneNode(dir string) map[string]string {
	return map[string]string{
		"process.roles":                                    "broker,controller",
		"node.id":                                          "1",
		"controller.listener.names":                        "CONTROLLER",
		"log.dirs":                                         filepath.Join(dir, "data"),
		"offsets.topic.replication.factor":                 "1",
		"offsets.topic.num.partitions":                     "3",
		"transaction.state.log.replication.factor":         "1",
		"transaction.state.log.min.isr":                    "1",
		"share.coordinator.state.topic.replication.factor": "1",
		"share.coordinator.state.topic.min.isr":            "1",
		"group.initial.rebalance.delay.ms":                 "0",
		"default.replication.factor":                       "1",
		"num.partitions":                                   "1",
		"num.network.threads":                              "2",
		"num.io.threads":                                   "2",
		"log.segment.bytes":                                "16777216",
	}
}

// launch writes props, formats storage and starts kafka.Kafka with
// jvmArgs, returning once bootstrap answers metadata.
func (r *Runtime) launch(ctx context.Context, name, dir string, props map[string]string, bootstrap string, jvmArgs ...string) (*Broker, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(cfg, renderProps(props), 0o600); err != nil {
		return nil, err
	}
	if err := r.format(ctx, dir, cfg); err != nil {
		return nil, fmt.Errorf("%s broker: %w", name, err)
	}
	p, err := r.startJVM(name+" broker", dir, nil, append(jvmArgs, "kafka.Kafka", cfg)...)
	if err != nil {
		return nil, err
	}
	b := &Broker{Process: p, Bootstrap: bootstrap}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := p.waitFor(wctx, "answering metadata", b.ping); err != nil {
		p.Kill()
		return nil, err
	}
	return b, nil
}

// format runs kafka-storage's format for a standalone controller.
func (r *Runtime) format(ctx context.Context, dir, cfg string) error {
	cmd := exec.CommandContext(ctx, r.Java, append(slices.Clone(jvmFlags), "-cp", r.classPath(),
		"kafka.tools.StorageTool", "format", "--cluster-id", clusterID(), "--config", cfg, "--standalone")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kafka-storage format: %w\n%s", err, out)
	}
	return nil
}

// clusterID is a new random cluster id in Kafka's form (16 bytes,
// unpadded URL-safe base64), so no two brokers of a run share one.
func clusterID() string {
	return base64.RawURLEncoding.EncodeToString([]byte(rand.Text())[:16])
}

func renderProps(props map[string]string) []byte {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	return []byte(b.String())
}

func (b *Broker) ping(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Bootstrap), kgo.RetryTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(pctx)
	if err != nil {
		return err
	}
	if md.Controller < 0 {
		return errNotYet
	}
	return nil
}

// Client returns a franz-go client for the broker; the caller closes it.
func (b *Broker) Client(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Bootstrap)}, opts...)...)
}
