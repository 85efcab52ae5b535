package realkafka

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kadm"
)

// SecureBroker is a single-node KRaft cluster with authentication and
// authorization on: a SASL_SSL listener (SCRAM-SHA-512), an SSL listener
// that requires a client certificate, and the StandardAuthorizer with
// allow.everyone.if.no.acl.found=false. Broker.Bootstrap is a PLAINTEXT
// listener whose anonymous principal is the only super user: it carries
// the broker's own inter-broker traffic and a test's setup (users, ACLs,
// topics), never the clients under test.
type SecureBroker struct {
	// Broker is the broker itself; its Bootstrap is the super user's
	// PLAINTEXT listener.
	*Broker
	// SASLSSL is the SASL_SSL (SCRAM-SHA-512) listener, host:port.
	SASLSSL string
	// SSL is the SSL listener with ssl.client.auth=required, host:port.
	SSL string
	// AuthorizerLog is where the broker logs every authorization decision
	// (kafka.authorizer.logger at INFO: denials, and grants at DEBUG off).
	AuthorizerLog string
}

// SecureBrokerOptions configure StartSecureBroker.
type SecureBrokerOptions struct {
	// Name labels the process ("source", "target").
	Name string
	// Dir holds the broker's data, config, stores and logs.
	Dir string
	// Cert is the broker's certificate, issued by the CA clients trust;
	// the broker trusts the same CA for client certificates.
	Cert *Leaf
	// Props are extra or overriding server properties.
	Props map[string]string
}

// storePassword protects the broker's own stores; they hold no secret
// of the clients under test.
const storePassword = "broker-store-pass"

// secureLog4j adds the authorizer's decisions, in a file of their own, to
// the package's logging.
const secureLog4j = log4jConfig + `appender.authz.type=File
appender.authz.name=authz
appender.authz.fileName=${sys:kafka.logs.dir}/authorizer.log
appender.authz.layout.type=PatternLayout
appender.authz.layout.pattern=[%d] %m%n
logger.authz.name=kafka.authorizer.logger
logger.authz.level=INFO
logger.authz.additivity=false
logger.authz.appenderRef.authz.ref=authz
`

// StartSecureBroker writes the broker's JKS stores, formats storage and
// starts the broker, returning once the setup listener answers metadata.
// Certificate principals are mapped to their CN (User:CN).
func (r *Runtime) StartSecureBroker(ctx context.Context, o SecureBrokerOptions) (*SecureBroker, error) {
	if o.Cert == nil {
		return nil, fmt.Errorf("%s broker: no certificate", o.Name)
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	ks, err := o.Cert.JKS("broker", storePassword)
	if err != nil {
		return nil, err
	}
	ts, err := o.Cert.CA.TrustJKS(storePassword)
	if err != nil {
		return nil, err
	}
	ksPath, tsPath := filepath.Join(o.Dir, "broker.keystore.jks"), filepath.Join(o.Dir, "broker.truststore.jks")
	if err := os.WriteFile(ksPath, ks, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(tsPath, ts, 0o600); err != nil {
		return nil, err
	}
	internal, sasl, ssl, ctrl := ports[0], ports[1], ports[2], ports[3]
	props := oneNode(o.Dir)
	maps.Copy(props, map[string]string{
		"listeners":                           fmt.Sprintf("INTERNAL://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d,SSL://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", internal, sasl, ssl, ctrl),
		"advertised.listeners":                fmt.Sprintf("INTERNAL://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d,SSL://127.0.0.1:%d", internal, sasl, ssl),
		"listener.security.protocol.map":      "INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name":          "INTERNAL",
		"controller.quorum.bootstrap.servers": fmt.Sprintf("127.0.0.1:%d", ctrl),

		"sasl.enabled.mechanisms":                               "SCRAM-SHA-512",
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"ssl.keystore.type":                                     "JKS",
		"ssl.keystore.location":                                 ksPath,
		"ssl.keystore.password":                                 storePassword,
		"ssl.key.password":                                      storePassword,
		"ssl.truststore.type":                                   "JKS",
		"ssl.truststore.location":                               tsPath,
		"ssl.truststore.password":                               storePassword,
		"listener.name.ssl.ssl.client.auth":                     "required",
		"ssl.principal.mapping.rules":                           "RULE:^CN=([^,]+)(,.*)?$/$1/,DEFAULT",

		"authorizer.class.name":          "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"allow.everyone.if.no.acl.found": "false",
		"super.users":                    "User:ANONYMOUS",
		"auto.create.topics.enable":      "false",
	})
	maps.Copy(props, o.Props)
	logCfg := filepath.Join(o.Dir, "log4j2-secure.properties")
	if err := os.WriteFile(logCfg, []byte(secureLog4j), 0o600); err != nil {
		return nil, err
	}
	// The later -D wins over the package's own log configuration.
	broker, err := r.launch(ctx, o.Name, o.Dir, props, fmt.Sprintf("127.0.0.1:%d", internal), "-Dlog4j2.configurationFile="+logCfg)
	if err != nil {
		return nil, err
	}
	return &SecureBroker{
		Broker:        broker,
		SASLSSL:       fmt.Sprintf("127.0.0.1:%d", sasl),
		SSL:           fmt.Sprintf("127.0.0.1:%d", ssl),
		AuthorizerLog: filepath.Join(o.Dir, "authorizer.log"),
	}, nil
}

// AddSCRAMUser creates or updates a SCRAM-SHA-512 user through the admin
// API (AlterUserScramCredentials) on the setup listener.
func (b *SecureBroker) AddSCRAMUser(ctx context.Context, user, password string) error {
	cl, err := b.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{
		User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: password,
	}})
	if err != nil {
		return fmt.Errorf("%s: alter SCRAM user %s: %w", b.Name, user, err)
	}
	if a, ok := res[user]; ok && a.Err != nil {
		return fmt.Errorf("%s: alter SCRAM user %s: %w", b.Name, user, a.Err)
	}
	return nil
}
