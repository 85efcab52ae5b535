package realkafka

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Worker is one distributed Kafka Connect worker with the JMX exporter
// agent loaded.
type Worker struct {
	// Process is the worker's JVM: its name, log and Stop.
	*Process
	// URL is the worker's REST base URL, e.g. http://127.0.0.1:41234.
	URL string
	// JMXURL is the agent's /metrics URL.
	JMXURL string
}

// WorkerOptions configure StartWorker.
type WorkerOptions struct {
	// Name labels the process ("worker 1").
	Name string
	// Dir holds the worker's logs.
	Dir string
	// Properties is the connect-distributed.properties to start with; its
	// listeners must name RESTPort on 127.0.0.1.
	Properties string
	// RESTPort and JMXPort are the ports the worker and its agent bind
	// (from WorkerPorts).
	RESTPort, JMXPort int
	// Rules is the JMX exporter rules file.
	Rules string
	// Env is added to this process's environment (the ${env:...}
	// references of connector configs read it).
	Env []string
}

// WorkerPorts reserves a REST and a JMX exporter port for a worker.
func WorkerPorts() (rest, jmx int, err error) {
	ports, err := freePorts(2)
	if err != nil {
		return 0, 0, err
	}
	return ports[0], ports[1], nil
}

// StartWorker starts ConnectDistributed and returns once its REST API
// lists connectors (the herder has joined the group) and the agent
// answers.
func (r *Runtime) StartWorker(ctx context.Context, o WorkerOptions) (*Worker, error) {
	agent := fmt.Sprintf("-javaagent:%s=127.0.0.1:%d:%s", r.Agent, o.JMXPort, o.Rules)
	p, err := r.startJVM(o.Name, o.Dir, o.Env, agent,
		"org.apache.kafka.connect.cli.ConnectDistributed", o.Properties)
	if err != nil {
		return nil, err
	}
	w := &Worker{
		Process: p,
		URL:     fmt.Sprintf("http://127.0.0.1:%d", o.RESTPort),
		JMXURL:  fmt.Sprintf("http://127.0.0.1:%d/metrics", o.JMXPort),
	}
	wctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	if err := p.waitFor(wctx, "serving GET /connectors", func(ctx context.Context) error {
		if err := get(ctx, w.URL+"/connectors"); err != nil {
			return err
		}
		return get(ctx, w.JMXURL)
	}); err != nil {
		p.Kill()
		return nil, err
	}
	return w, nil
}

func get(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
