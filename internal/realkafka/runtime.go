// Package realkafka runs real Apache Kafka on loopback for the integration
// suite and `mm2-demo -real`: KRaft brokers (kafka.Kafka) and distributed
// Kafka Connect workers (ConnectDistributed, with MirrorMaker 2 and the
// Prometheus JMX exporter agent) from the jars that connect-image ships,
// resolved by scripts/kafka-runtime.sh. It starts and stops JVM processes
// and reads their logs; it knows nothing of the sidecar or of MM2's data.
package realkafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoJava means this machine cannot run the real runtime; the error
// text names what to install.
var ErrNoJava = errors.New("java or maven missing")

// Runtime is a resolved class path and JMX exporter agent.
type Runtime struct {
	// Java is the java executable.
	Java string
	// Libs is the folder whose jars form the class path.
	Libs string
	// Agent is the JMX exporter agent jar.
	Agent string
}

// Resolve returns the runtime of connect-image/runtime/pom.xml, resolving
// it with scripts/kafka-runtime.sh under repoDir when it is not cached.
func Resolve(ctx context.Context, repoDir string) (*Runtime, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%w: java not found on PATH (Java 17+: apt-get install openjdk-17-jdk-headless)", ErrNoJava)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(repoDir, "scripts", "kafka-runtime.sh"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 3 {
			return nil, fmt.Errorf("%w: %s", ErrNoJava, strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("scripts/kafka-runtime.sh: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(stdout.String())
	return &Runtime{Java: java, Libs: filepath.Join(dir, "libs"), Agent: filepath.Join(dir, "agent", "jmx_prometheus_javaagent.jar")}, nil
}

// FromLibs uses a folder of jars as the class path: the libs/ folder of an
// unpacked Kafka distribution, or one that kafka-runtime.sh resolved. The
// JMX exporter agent is agent (when set), else a jmx_prometheus_javaagent
// jar in dir or in dir/../agent.
func FromLibs(dir, agent string) (*Runtime, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%w: java not found on PATH (Java 17+: apt-get install openjdk-17-jdk-headless)", ErrNoJava)
	}
	jars, _ := filepath.Glob(filepath.Join(dir, "*.jar"))
	if len(jars) == 0 {
		return nil, fmt.Errorf("kafka libs %s: no jars in it", dir)
	}
	if agent == "" {
		for _, pattern := range []string{
			filepath.Join(dir, "jmx_prometheus_javaagent*.jar"),
			filepath.Join(dir, "..", "agent", "jmx_prometheus_javaagent*.jar"),
		} {
			if m, _ := filepath.Glob(pattern); len(m) > 0 {
				agent = m[0]
				break
			}
		}
	}
	if agent == "" {
		return nil, fmt.Errorf("kafka libs %s: no jmx_prometheus_javaagent jar in it or in ../agent; name one with the JMX agent option", dir)
	}
	if _, err := os.Stat(agent); err != nil {
		return nil, fmt.Errorf("jmx exporter agent: %w", err)
	}
	return &Runtime{Java: java, Libs: dir, Agent: agent}, nil
}

// classPath is the java -cp value.
func (r *Runtime) classPath() string { return filepath.Join(r.Libs, "*") }
