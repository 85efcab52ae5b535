package realkafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// jvmFlags keep each JVM small and quick to start: the suite runs five of
// them on two cores.
var jvmFlags = []string{
	"-Xms64m", "-Xmx320m",
	"-XX:+UseSerialGC",
	"-XX:TieredStopAtLevel=1",
	"-XX:+ExitOnOutOfMemoryError",
	"-Djava.awt.headless=true",
}

// log4jConfig sends every log line of a JVM to the file named by the
// kafka.logs.file system property.
const log4jConfig = `rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=${sys:kafka.logs.file}
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=WARN
logger.state.name=state.change.logger
logger.state.level=WARN
logger.coordinator.name=org.apache.kafka.coordinator
logger.coordinator.level=WARN
logger.storage.name=org.apache.kafka.storage
logger.storage.level=WARN
`

// Process is one JVM started by this package.
type Process struct {
	// Name says what it is, e.g. "source broker" or "worker 2".
	Name string
	// LogPath is the JVM's log file (Log4j); stdout and stderr go to
	// LogPath + ".out".
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startJVM starts java with the runtime's class path. The process gets its
// own process group and is killed if this process dies first, so a crashed
// or timed-out test leaves no JVM behind.
func (r *Runtime) startJVM(name, dir string, env []string, args ...string) (*Process, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logCfg := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(logCfg, []byte(log4jConfig), 0o600); err != nil {
		return nil, err
	}
	p := &Process{Name: name, LogPath: filepath.Join(dir, "jvm.log"), done: make(chan struct{})}
	out, err := os.Create(p.LogPath + ".out")
	if err != nil {
		return nil, err
	}
	full := append(slices.Clone(jvmFlags),
		"-Dlog4j2.configurationFile="+logCfg,
		"-Dkafka.logs.file="+p.LogPath,
		"-Dkafka.logs.dir="+dir,
		"-cp", r.classPath())
	full = append(full, args...)
	p.cmd = exec.Command(r.Java, full...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("%s: start java: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// Stop sends SIGTERM to the process group and waits up to grace, then
// kills it; it returns once the process has ended.
func (p *Process) Stop(grace time.Duration) {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill ends the process at once, as a crashed host would.
func (p *Process) Kill() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Pid is the JVM's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Tail returns the last n bytes of the JVM's log and console output.
func (p *Process) Tail(n int) string {
	var b strings.Builder
	for _, f := range []string{p.LogPath, p.LogPath + ".out"} {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > n {
			data = data[len(data)-n:]
		}
		fmt.Fprintf(&b, "--- %s (%s), last %d bytes ---\n%s\n", p.Name, filepath.Base(f), len(data), data)
	}
	return b.String()
}

// waitFor polls ready until it returns nil, the process exits or ctx ends.
func (p *Process) waitFor(ctx context.Context, what string, ready func(context.Context) error) error {
	var last error
	for {
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("%s exited before %s (%v):\n%s", p.Name, what, err, p.Tail(4000))
		}
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s: %w (last: %v)\n%s", p.Name, what, ctx.Err(), last, p.Tail(4000))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// FreePort reserves a loopback port and releases it for a process to bind.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freePorts reserves n distinct ports at once.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

var errNotYet = errors.New("not yet")
