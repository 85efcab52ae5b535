package preflight

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	mathbig "math/big"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
)

// selfSigned makes a CA-less server certificate for 127.0.0.1 valid until
// notAfter, and its PEM.
func selfSigned(t *testing.T, cn string, notAfter time.Time) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          mathbig.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestReachTLSExpiry: a target whose broker certificate expires within 30
// days is a WARN naming the certificate; one valid for a year passes; one
// the client does not trust fails.
func TestReachTLSExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn time.Duration
		trusted   bool
		status    Status
		fragments []string
	}{
		{"valid for a year", 365 * 24 * time.Hour, true, Pass, []string{"TLS chain trusted", "target-broker"}},
		{"expires in ten days", 10 * 24 * time.Hour, true, Warn, []string{"renew the target cluster's certificate \"target-broker\""}},
		{"not trusted", 365 * 24 * time.Hour, false, Fail, []string{`target cluster "tgt"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, certPEM := selfSigned(t, "target-broker", time.Now().Add(tt.expiresIn))
			e := newEnv(t, nil, []kfake.Opt{kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}})})
			e.seed()
			trust := certPEM
			if !tt.trusted {
				_, trust = selfSigned(t, "someone-else", time.Now().Add(time.Hour))
			}
			tlsCfg := map[string]string{
				"target.cluster.security.protocol":           "SSL",
				"target.cluster.ssl.truststore.type":         "PEM",
				"target.cluster.ssl.truststore.certificates": trust,
			}
			got := results(t, Input{Connectors: []desired.Connector{e.msc(tlsCfg), e.cpc(tlsCfg)}, Worker: map[string]string{}})
			expect(t, got, CheckReach, tt.status, tt.fragments...)
		})
	}
}
