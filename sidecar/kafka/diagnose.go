package kafka

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Reason says, in a word an alert or a script can match, why a cluster
// could not be measured. It is the reason label of
// connect_sidecar_lag_error.
type Reason string

// The reasons an operator can act on; ReasonOther is the rest.
const (
	ReasonAuthentication        Reason = "authentication"
	ReasonBrokerCertUntrusted   Reason = "broker_certificate_untrusted"
	ReasonClientCertExpired     Reason = "client_certificate_expired"
	ReasonClientCertRejected    Reason = "client_certificate_rejected"
	ReasonAuthorization         Reason = "authorization"
	ReasonClientSettings        Reason = "client_settings"
	ReasonUnreachable           Reason = "unreachable"
	ReasonOther                 Reason = "other"
	aclListRef                         = "Least-privilege ACLs in connect-image/README.md"
	truststoreHintSystemDefault        = "or to the system's CAs when it names none"
)

// ExpiredCertError is a client certificate past its NotAfter: a broker
// would refuse it, so the sidecar does not try.
type ExpiredCertError struct {
	// Key is the connector key naming the key store, such as
	// source.cluster.ssl.keystore.location.
	Key string
	// Subject is the certificate's subject, as x509 prints it.
	Subject string
	// NotAfter is when the certificate expired.
	NotAfter time.Time
}

func (e *ExpiredCertError) Error() string {
	return fmt.Sprintf("%s: client certificate %q expired at %s", e.Key, e.Subject, e.NotAfter.UTC().Format(time.RFC3339))
}

// checkNotExpired refuses a key-store certificate that has expired.
func (c Cluster) checkNotExpired(cert []byte, now time.Time) error {
	leaf, err := x509.ParseCertificate(cert)
	if err != nil {
		return fmt.Errorf("%s: %w", c.key("ssl.keystore.location"), err)
	}
	if now.After(leaf.NotAfter) {
		return &ExpiredCertError{Key: c.key("ssl.keystore.location"), Subject: leaf.Subject.String(), NotAfter: leaf.NotAfter}
	}
	return nil
}

// listener describes how the cluster is reached, for errors: the first
// bootstrap server and the protocol, with the SASL mechanism.
func (c Cluster) listener() string {
	s := strings.Join(c.BootstrapServers, ",")
	if s == "" {
		s = "no bootstrap servers"
	}
	p := c.SecurityProtocol
	if c.SASLMechanism != "" {
		p += "/" + c.SASLMechanism
	}
	return s + " " + p
}

// diagnose classifies err and says what the operator should change.
func diagnose(c Cluster, err error) (Reason, string) {
	var expired *ExpiredCertError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return ReasonClientCertExpired, fmt.Sprintf("renew the certificate in the key store %s names (upload the new store and run the bootstrap again)", expired.Key)
	case errors.Is(err, kerr.SaslAuthenticationFailed) || strings.Contains(msg, "SASL_AUTHENTICATION_FAILED"):
		if c.SASLMechanism == "AWS_MSK_IAM" || c.SASLMechanism == "OAUTHBEARER" {
			return ReasonAuthentication, "check that the task role may kafka-cluster:Connect to this cluster (taskdefs/iam/msk-iam-access.json)"
		}
		return ReasonAuthentication, fmt.Sprintf("check the user and password %s references against the cluster's credentials for %s", c.key("sasl.jaas.config"), c.SASLMechanism)
	case errors.As(err, &unknownCA), errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return ReasonBrokerCertUntrusted, fmt.Sprintf("the broker's certificate is not signed by a CA this client trusts, or has expired: add its CA to the trust store %s names, %s", c.key("ssl.truststore.location"), truststoreHintSystemDefault)
	case errors.As(err, &hostname):
		return ReasonBrokerCertUntrusted, fmt.Sprintf("the broker's certificate does not name the host of %s: connect with a name it holds", c.key("bootstrap.servers"))
	case strings.Contains(msg, "remote error: tls:"):
		return ReasonClientCertRejected, fmt.Sprintf("the broker refused the TLS handshake: check that the key store %s names holds a certificate the broker's CA signed, and that the listener is the one for this protocol", c.key("ssl.keystore.location"))
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		strings.Contains(msg, "AUTHORIZATION_FAILED"):
		return ReasonAuthorization, "the principal lacks an ACL for this request: grant the ACLs listed under " + aclListRef
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"), strings.Contains(msg, "i/o timeout"):
		return ReasonUnreachable, fmt.Sprintf("check %s and that this task may reach it", c.key("bootstrap.servers"))
	}
	return ReasonOther, ""
}
