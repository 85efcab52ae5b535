package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
)

// startReal brings up the demo on real Apache Kafka: a KRaft broker per
// cluster, then per worker `connect-sidecar bootstrap`, a ConnectDistributed
// JVM on the properties it wrote (with the image's JMX exporter rules), and
// `connect-sidecar run` beside it.
func (d *Demo) startReal(ctx context.Context) error {
	rt := d.opts.Runtime
	var err error
	brokers := make([]*realkafka.Broker, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"source", "target"} {
		wg.Go(func() {
			brokers[i], errs[i] = rt.StartBroker(ctx, realkafka.BrokerOptions{
				Name: name,
				Dir:  filepath.Join(d.opts.WorkDir, name),
				// MM2 copies topic configs from the source; a record larger than
				// the broker default is how the integration suite fails a task.
				Props: map[string]string{"auto.create.topics.enable": "false"},
			})
		})
	}
	wg.Wait()
	d.RealSource, d.RealTarget = brokers[0], brokers[1]
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if d.traffic, err = startTraffic(ctx, d.SourceAddrs(), 1, d.opts.Backlog, d.opts.ProduceFor, d.log); err != nil {
		return err
	}
	if _, err := d.startS3(); err != nil {
		return err
	}
	if d.Binary = d.opts.Binary; d.Binary == "" {
		if d.Binary, err = selfAsSidecar(d.opts.WorkDir); err != nil {
			return err
		}
	}
	type slot struct {
		rest, jmx int
		configDir string
	}
	slots := make([]slot, d.opts.Workers)
	for i := range slots {
		if slots[i].rest, slots[i].jmx, err = realkafka.WorkerPorts(); err != nil {
			return err
		}
		if slots[i].configDir, err = d.bootstrap(ctx, i, fmt.Sprintf("127.0.0.1:%d", slots[i].rest)); err != nil {
			return err
		}
	}
	env := d.clusterEnvList()
	d.Workers = make([]*realkafka.Worker, d.opts.Workers)
	errs = make([]error, d.opts.Workers)
	for i := range slots {
		wg.Go(func() {
			d.Workers[i], errs[i] = rt.StartWorker(ctx, d.workerOptions(i, slots[i].configDir, slots[i].rest, slots[i].jmx, env))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, w := range d.Workers {
		sc, err := d.startSidecar(i, slots[i].configDir, w.URL, w.JMXURL)
		if err != nil {
			return err
		}
		d.Sidecars = append(d.Sidecars, sc)
	}
	return nil
}

func (d *Demo) workerOptions(i int, configDir string, rest, jmx int, env []string) realkafka.WorkerOptions {
	return realkafka.WorkerOptions{
		Name:       fmt.Sprintf("worker %d", i+1),
		Dir:        filepath.Join(d.workerDir(i), "jvm"),
		Properties: filepath.Join(configDir, "connect-distributed.properties"),
		RESTPort:   rest,
		JMXPort:    jmx,
		Rules:      filepath.Join(d.opts.RepoDir, "connect-image", "jmx-exporter.yml"),
		Env:        env,
	}
}

func (d *Demo) clusterEnvList() []string {
	var env []string
	for k, v := range d.clusterEnv() {
		env = append(env, k+"="+v)
	}
	return env
}

// StopWorker stops worker i's JVM (SIGTERM, then SIGKILL after grace).
func (d *Demo) StopWorker(i int, grace time.Duration) { d.Workers[i].Stop(grace) }

// RealProcesses lists every JVM of the real mode, for log tails.
func (d *Demo) RealProcesses() []*realkafka.Process {
	var ps []*realkafka.Process
	for _, b := range []*realkafka.Broker{d.RealSource, d.RealTarget} {
		if b != nil {
			ps = append(ps, b.Process)
		}
	}
	for _, w := range d.Workers {
		if w != nil {
			ps = append(ps, w.Process)
		}
	}
	return ps
}

func (d *Demo) stopReal() {
	var wg sync.WaitGroup
	for _, w := range d.Workers {
		if w != nil {
			wg.Go(func() { w.Stop(20 * time.Second) })
		}
	}
	wg.Wait()
	for _, b := range []*realkafka.Broker{d.RealSource, d.RealTarget} {
		if b != nil {
			wg.Go(func() { b.Stop(20 * time.Second) })
		}
	}
	wg.Wait()
}
