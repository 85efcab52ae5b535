package realkafka

import (
	"bytes"
	"crypto/x509"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// TestStoresReadBack reads every store the PKI writes with an independent
// reader, and checks the chain verifies against the CA.
func TestStoresReadBack(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("mm2", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, DNSName: "localhost"}); err != nil {
		t.Fatalf("leaf does not verify: %v", err)
	}

	ksJKS, err := leaf.JKS("broker", "pw-1")
	if err != nil {
		t.Fatal(err)
	}
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(ksJKS), []byte("pw-1")); err != nil {
		t.Fatal(err)
	}
	e, err := ks.GetPrivateKeyEntry("broker", []byte("pw-1"))
	if err != nil || len(e.CertificateChain) != 2 {
		t.Fatalf("jks key entry: %v, chain %d", err, len(e.CertificateChain))
	}

	tsJKS, err := ca.TrustJKS("pw-2")
	if err != nil {
		t.Fatal(err)
	}
	ts := keystore.New()
	if err := ts.Load(bytes.NewReader(tsJKS), []byte("pw-2")); err != nil || !ts.IsTrustedCertificateEntry("ca") {
		t.Fatalf("jks trust store: %v", err)
	}

	p12, err := leaf.PKCS12("pw-3")
	if err != nil {
		t.Fatal(err)
	}
	if _, c, cas, err := pkcs12.DecodeChain(p12, "pw-3"); err != nil || c.Subject.CommonName != "mm2" || len(cas) != 1 {
		t.Fatalf("pkcs12 key store: %v", err)
	}
	tp12, err := ca.TrustPKCS12("pw-4")
	if err != nil {
		t.Fatal(err)
	}
	if certs, err := pkcs12.DecodeTrustStore(tp12, "pw-4"); err != nil || len(certs) != 1 || !certs[0].Equal(ca.Cert) {
		t.Fatalf("pkcs12 trust store: %v", err)
	}
	if _, err := pkcs12.DecodeTrustStore(tp12, "wrong"); err == nil {
		t.Error("pkcs12 trust store opened with a wrong password")
	}
}
