package kafka

import (
	"context"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
)

func TestClusterFromConnectorErrors(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"source.cluster.bootstrap.servers": "b1:9092"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	jaas := `org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="topsecret";`
	tests := []struct {
		name string
		conf map[string]string
		err  string
	}{
		{"no bootstrap", map[string]string{}, "source.cluster.bootstrap.servers: not set"},
		{"bad protocol", base("source.cluster.security.protocol", "TLS"), `source.cluster.security.protocol="TLS": must be`},
		{"truststore with plaintext", base("source.cluster.ssl.truststore.location", "/x"), "source.cluster.ssl.truststore.location is set but source.cluster.security.protocol is PLAINTEXT"},
		{"jaas with ssl", base("source.cluster.security.protocol", "SSL", "source.cluster.sasl.jaas.config", jaas), "source.cluster.sasl.jaas.config is set but source.cluster.security.protocol is SSL"},
		{"gssapi default", base("source.cluster.security.protocol", "SASL_SSL"), "source.cluster.sasl.mechanism: GSSAPI (Kerberos) is not supported"},
		{"unknown mechanism", base("source.cluster.security.protocol", "SASL_SSL", "source.cluster.sasl.mechanism", "DIGEST"), `source.cluster.sasl.mechanism="DIGEST": not supported`},
		{"scram without jaas", base("source.cluster.security.protocol", "SASL_SSL", "source.cluster.sasl.mechanism", "SCRAM-SHA-512"), "source.cluster.sasl.jaas.config: not set"},
		{"scram with plain module", base("source.cluster.security.protocol", "SASL_SSL", "source.cluster.sasl.mechanism", "SCRAM-SHA-512",
			"source.cluster.sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="topsecret";`), "does not fit sasl.mechanism SCRAM-SHA-512"},
		{"jaas without password", base("source.cluster.security.protocol", "SASL_SSL", "source.cluster.sasl.mechanism", "PLAIN",
			"source.cluster.sasl.jaas.config", `org.apache.kafka.common.security.plain.PlainLoginModule required username="u";`), "username and password options are required"},
		{"bad jaas", base("source.cluster.security.protocol", "SASL_SSL", "source.cluster.sasl.mechanism", "PLAIN",
			"source.cluster.sasl.jaas.config", `PlainLoginModule required password="topsecret`), "source.cluster.sasl.jaas.config: jaas config: unterminated"},
		{"iam over plaintext", base("source.cluster.security.protocol", "SASL_PLAINTEXT", "source.cluster.sasl.mechanism", "AWS_MSK_IAM"), "AWS_MSK_IAM needs security.protocol SASL_SSL"},
		{"oauthbearer not msk", base("source.cluster.security.protocol", "SASL_SSL", "source.cluster.sasl.mechanism", "OAUTHBEARER"), "OAUTHBEARER is supported only for MSK IAM"},
		{"missing env", base("source.cluster.security.protocol", "SASL_SSL", "source.cluster.sasl.mechanism", "PLAIN",
			"source.cluster.sasl.jaas.config", `M required username="u" password="${env:NOT_SET_ANYWHERE}";`), "source.cluster.sasl.jaas.config: ${env:NOT_SET_ANYWHERE}: environment variable NOT_SET_ANYWHERE is not set"},
		{"env with path", base("source.cluster.bootstrap.servers", "${env:p:HOST}"), "the env config provider does not support a path"},
		{"unknown provider", base("source.cluster.bootstrap.servers", "${vault:secret/x:host}"), `config provider "vault" is not supported`},
		{"bad store type", base("source.cluster.security.protocol", "SSL", "source.cluster.ssl.truststore.type", "BKS", "source.cluster.ssl.truststore.location", "/x"), `source.cluster.ssl.truststore.type="BKS"`},
		{"missing store", base("source.cluster.security.protocol", "SSL", "source.cluster.ssl.keystore.location", "/nonexistent/keystore.jks"), "source.cluster.ssl.keystore.location: open /nonexistent/keystore.jks"},
		{"bad endpoint algorithm", base("source.cluster.security.protocol", "SSL", "source.cluster.ssl.endpoint.identification.algorithm", "ldap"), "must be https or empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := javaconfig.Resolver{LookupEnv: func(string) (string, bool) { return "", false }}
			c, err := ClusterFromConnector(tc.conf, Source, r)
			if err == nil {
				_, err = c.ClientOpts(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestClusterFromConnectorDescribes(t *testing.T) {
	conf := map[string]string{
		"target.cluster.alias":             "msk",
		"target.cluster.bootstrap.servers": "b-1.x.kafka.eu-west-1.amazonaws.com:9098, b-2.x.kafka.eu-west-1.amazonaws.com:9098",
		"target.cluster.security.protocol": "sasl_ssl",
		"target.cluster.sasl.mechanism":    "AWS_MSK_IAM",
		"target.cluster.sasl.jaas.config":  "software.amazon.msk.auth.iam.IAMLoginModule required;",
	}
	c, err := ClusterFromConnector(conf, Target, javaconfig.Resolver{})
	if err != nil {
		t.Fatal(err)
	}
	want := `target cluster "msk" (b-1.x.kafka.eu-west-1.amazonaws.com:9098,b-2.x.kafka.eu-west-1.amazonaws.com:9098, SASL_SSL/AWS_MSK_IAM)`
	if c.String() != want {
		t.Errorf("String() = %s\nwant %s", c, want)
	}
	if r := regionFromHost(c.BootstrapServers[0]); r != "eu-west-1" {
		t.Errorf("region = %q", r)
	}
}
