package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
)

// Role says which side of the replication a cluster is on.
type Role string

// The two clusters of a MirrorMaker 2 connector.
const (
	Source Role = "source"
	Target Role = "target"
)

// Security protocols as Kafka names them (security.protocol).
const (
	Plaintext     = "PLAINTEXT"
	SSL           = "SSL"
	SASLPlaintext = "SASL_PLAINTEXT"
	SASLSSL       = "SASL_SSL"
)

// Cluster is how to reach one of the two clusters of an MM2 connector,
// taken from the connector's own config so that the sidecar connects the
// way MM2 does. Secrets live in an unexported map and never print.
type Cluster struct {
	// Role is Source or Target.
	Role Role
	// Alias is <role>.cluster.alias, or the role's name when that is not
	// set.
	Alias string
	// BootstrapServers are the host:port seeds of bootstrap.servers; never
	// empty in a Cluster that ClusterFromConnector returns.
	BootstrapServers []string
	// SecurityProtocol is one of Plaintext, SSL, SASLPlaintext and
	// SASLSSL, upper case; PLAINTEXT when the connector sets none.
	SecurityProtocol string
	// SASLMechanism is sasl.mechanism, upper case (GSSAPI when not set,
	// as in Kafka); empty unless the protocol is SASL_*.
	SASLMechanism string

	props  map[string]string // effective client settings, references resolved
	keySrc map[string]string // client setting -> connector key it came from
}

// String describes the cluster for logs and errors without secrets.
func (c Cluster) String() string {
	s := fmt.Sprintf("%s cluster %q (%s, %s", c.Role, c.Alias, strings.Join(c.BootstrapServers, ","), c.SecurityProtocol)
	if c.SASLMechanism != "" {
		s += "/" + c.SASLMechanism
	}
	return s + ")"
}

// clientKey reports whether a setting is one the sidecar's clients use;
// MirrorClientConfig keeps the same family (bootstrap, security, ssl, sasl).
func clientKey(k string) bool {
	return k == "bootstrap.servers" || k == "security.protocol" || strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "sasl.")
}

// ClusterFromConnector builds the source or target cluster settings from a
// MirrorSourceConnector (or MirrorCheckpointConnector) config. As MM2's
// admin clients do (MirrorConnectorConfig.sourceAdminConfig and
// targetAdminConfig), "<role>.cluster.*" is the base, overridden by
// "admin.*", overridden by "<role>.admin.*". Config-provider references
// are resolved with r.
func ClusterFromConnector(conn map[string]string, role Role, r javaconfig.Resolver) (Cluster, error) {
	c := Cluster{Role: role, Alias: string(role), props: map[string]string{}, keySrc: map[string]string{}}
	if a := strings.TrimSpace(conn[string(role)+".cluster.alias"]); a != "" {
		c.Alias = a
	}
	for _, prefix := range []string{string(role) + ".cluster.", "admin.", string(role) + ".admin."} {
		for k, v := range conn {
			name, ok := strings.CutPrefix(k, prefix)
			if !ok || !clientKey(name) {
				continue
			}
			c.props[name] = v
			c.keySrc[name] = k
		}
	}
	// Resolve in a fixed order so that the first error is the same every time.
	names := make([]string, 0, len(c.props))
	for k := range c.props {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v, err := r.Resolve(c.keySrc[k], c.props[k])
		if err != nil {
			return Cluster{}, err
		}
		c.props[k] = v
	}

	for _, s := range strings.Split(c.props["bootstrap.servers"], ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.BootstrapServers = append(c.BootstrapServers, s)
		}
	}
	if len(c.BootstrapServers) == 0 {
		return Cluster{}, fmt.Errorf("%s.cluster.bootstrap.servers: not set", role)
	}
	c.SecurityProtocol = strings.ToUpper(strings.TrimSpace(c.props["security.protocol"]))
	if c.SecurityProtocol == "" {
		c.SecurityProtocol = Plaintext
	}
	switch c.SecurityProtocol {
	case Plaintext, SSL, SASLPlaintext, SASLSSL:
	default:
		return Cluster{}, fmt.Errorf("%s=%q: must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", c.key("security.protocol"), c.props["security.protocol"])
	}
	if err := c.checkCombination(); err != nil {
		return Cluster{}, err
	}
	if c.isSASL() {
		c.SASLMechanism = strings.ToUpper(strings.TrimSpace(c.props["sasl.mechanism"]))
		if c.SASLMechanism == "" {
			// Kafka's default mechanism; rejected below with the key named.
			c.SASLMechanism = "GSSAPI"
		}
	}
	return c, nil
}

// key names the connector config key a client setting came from, or the
// key an operator would set when it is missing.
func (c Cluster) key(name string) string {
	if k, ok := c.keySrc[name]; ok {
		return k
	}
	return string(c.Role) + ".cluster." + name
}

func (c Cluster) isSASL() bool {
	return c.SecurityProtocol == SASLPlaintext || c.SecurityProtocol == SASLSSL
}

func (c Cluster) isTLS() bool {
	return c.SecurityProtocol == SSL || c.SecurityProtocol == SASLSSL
}

// checkCombination refuses settings that a non-TLS or non-SASL protocol
// would silently ignore: a truststore or a JAAS login next to PLAINTEXT is
// almost always a forgotten security.protocol, and connecting in plaintext
// anyway would hide it.
func (c Cluster) checkCombination() error {
	var names []string
	for k := range c.props {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if c.props[k] == "" {
			continue
		}
		if strings.HasPrefix(k, "ssl.") && !c.isTLS() && k != "ssl.endpoint.identification.algorithm" {
			return fmt.Errorf("%s is set but %s is %s: set security.protocol to SSL or SASL_SSL, or remove it", c.key(k), c.key("security.protocol"), c.SecurityProtocol)
		}
		if (k == "sasl.jaas.config" || k == "sasl.mechanism") && !c.isSASL() {
			return fmt.Errorf("%s is set but %s is %s: set security.protocol to SASL_SSL or SASL_PLAINTEXT, or remove it", c.key(k), c.key("security.protocol"), c.SecurityProtocol)
		}
	}
	return nil
}

// ClientOpts returns the kgo options that reach this cluster: seed
// brokers, TLS and SASL. It loads key stores and, for MSK IAM, the AWS
// default credential chain.
func (c Cluster) ClientOpts(ctx context.Context) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.BootstrapServers...)}
	if c.isTLS() {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.isSASL() {
		mech, err := c.saslMechanism(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

// ClusterError is a failure to talk to one cluster: Alias names it,
// Listener says how it was reached, Reason classifies the failure and Fix
// says what to change. Its text is one line and holds no secret.
type ClusterError struct {
	// Role is the side of the replication the cluster is on.
	Role Role
	// Alias is the cluster's alias.
	Alias string
	// Listener is the bootstrap servers and the protocol (with the SASL
	// mechanism), such as "b-1:9096 SASL_SSL/SCRAM-SHA-512".
	Listener string
	// Reason classifies the failure; ReasonOther when no diagnosis fits.
	Reason Reason
	// Fix says what to change; empty for ReasonOther.
	Fix string
	// Err is the failure, prefixed with what was being done.
	Err error
}

func (e *ClusterError) Error() string {
	s := fmt.Sprintf("%s cluster %q: %s", e.Role, e.Alias, oneLine(e.Err.Error()))
	if e.Listener != "" {
		s += " (listener " + e.Listener + ")"
	}
	if e.Fix != "" {
		s += "; fix: " + e.Fix
	}
	return s
}

func (e *ClusterError) Unwrap() error { return e.Err }

// Wrap turns err, met while doing what with the cluster, into a
// *ClusterError with the cluster's alias, listener and diagnosis, unless
// it already is one; nil stays nil.
func (c Cluster) Wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var ce *ClusterError
	if errors.As(err, &ce) {
		return err
	}
	reason, fix := diagnose(c, err)
	if reason == ReasonOther && what == "client settings" {
		reason, fix = ReasonClientSettings, "correct the connector setting the message names"
	}
	return &ClusterError{Role: c.Role, Alias: c.Alias, Listener: c.listener(), Reason: reason, Fix: fix, Err: fmt.Errorf("%s: %w", what, err)}
}

// oneLine folds a multi-line message (a broker's or a JVM's) onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
