package kafka

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestClusterErrorDiagnosis(t *testing.T) {
	scram := Cluster{Role: Source, Alias: "onprem", BootstrapServers: []string{"10.0.0.1:9096"}, SecurityProtocol: SASLSSL, SASLMechanism: "SCRAM-SHA-512",
		keySrc: map[string]string{"sasl.jaas.config": "source.cluster.sasl.jaas.config"}}
	tlsc := Cluster{Role: Target, Alias: "msk", BootstrapServers: []string{"b-1:9094"}, SecurityProtocol: SSL}
	iam := Cluster{Role: Target, Alias: "msk", BootstrapServers: []string{"b-1:9098"}, SecurityProtocol: SASLSSL, SASLMechanism: "AWS_MSK_IAM"}
	for _, tc := range []struct {
		name   string
		c      Cluster
		err    error
		reason Reason
		want   []string
	}{
		{"wrong scram password", scram, fmt.Errorf("sasl: %w", kerr.SaslAuthenticationFailed), ReasonAuthentication,
			[]string{`source cluster "onprem"`, "listener 10.0.0.1:9096 SASL_SSL/SCRAM-SHA-512", "source.cluster.sasl.jaas.config"}},
		{"iam refused", iam, kerr.SaslAuthenticationFailed, ReasonAuthentication, []string{"kafka-cluster:Connect"}},
		{"unknown CA", tlsc, fmt.Errorf("unable to dial: %w", x509.UnknownAuthorityError{}), ReasonBrokerCertUntrusted,
			[]string{`target cluster "msk"`, "listener b-1:9094 SSL", "target.cluster.ssl.truststore.location"}},
		{"expired broker certificate", tlsc, x509.CertificateInvalidError{Cert: &x509.Certificate{NotAfter: time.Unix(0, 0)}, Reason: x509.Expired}, ReasonBrokerCertUntrusted, []string{"has expired"}},
		{"host name", tlsc, x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"other"}}, Host: "b-1"}, ReasonBrokerCertUntrusted, []string{"target.cluster.bootstrap.servers"}},
		{"expired client certificate", tlsc, &ExpiredCertError{Key: "target.cluster.ssl.keystore.location", Subject: "CN=mm2", NotAfter: time.Unix(0, 0)},
			ReasonClientCertExpired, []string{"CN=mm2", "1970-01-01T00:00:00Z", "renew the certificate"}},
		{"client certificate refused", tlsc, errors.New("read: remote error: tls: bad certificate"), ReasonClientCertRejected, []string{"target.cluster.ssl.keystore.location"}},
		{"missing topic ACL", tlsc, fmt.Errorf("read x: %w", kerr.TopicAuthorizationFailed), ReasonAuthorization, []string{"Least-privilege ACLs in connect-image/README.md"}},
		{"missing group ACL", tlsc, kerr.GroupAuthorizationFailed, ReasonAuthorization, []string{"GROUP_AUTHORIZATION_FAILED"}},
		{"down", tlsc, errors.New("dial tcp b-1:9094: connect: connection refused"), ReasonUnreachable, []string{"target.cluster.bootstrap.servers"}},
		{"other", tlsc, errors.New("something\nelse"), ReasonOther, []string{"something else"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Wrap("metadata", tc.err)
			var ce *ClusterError
			if !errors.As(err, &ce) {
				t.Fatalf("not a ClusterError: %v", err)
			}
			if ce.Reason != tc.reason {
				t.Errorf("reason = %s, want %s (%v)", ce.Reason, tc.reason, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			if tc.reason != ReasonOther && !strings.Contains(msg, "; fix: ") {
				t.Errorf("%q says no fix", msg)
			}
		})
	}
}
