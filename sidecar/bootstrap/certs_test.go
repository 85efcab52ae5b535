package bootstrap

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// testPKI is a CA and a leaf it signed, made fresh for each test.
type testPKI struct {
	caKey   *ecdsa.PrivateKey
	ca      *x509.Certificate
	leafKey *ecdsa.PrivateKey
	leaf    *x509.Certificate
}

func newPKI(t testing.TB, leafNotAfter time.Time) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA", Organization: []string{"mm2-ecs tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notBefore := time.Now().Add(-time.Hour)
	if leafNotAfter.Before(notBefore) {
		notBefore = leafNotAfter.Add(-48 * time.Hour)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "connect-worker"},
		NotBefore:    notBefore,
		NotAfter:     leafNotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return testPKI{caKey: caKey, ca: ca, leafKey: leafKey, leaf: leaf}
}

func (p testPKI) jksKeystore(t testing.TB, storePW, keyPW string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(p.leafKey)
	if err != nil {
		t.Fatal(err)
	}
	ks := keystore.New()
	err = ks.SetPrivateKeyEntry("worker", keystore.PrivateKeyEntry{
		CreationTime: time.Unix(1700000000, 0),
		PrivateKey:   der,
		CertificateChain: []keystore.Certificate{
			{Type: "X509", Content: p.leaf.Raw},
			{Type: "X509", Content: p.ca.Raw},
		},
	}, []byte(keyPW))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(storePW)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (p testPKI) jksTruststore(t testing.TB, storePW string) []byte {
	t.Helper()
	ks := keystore.New()
	err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{
		CreationTime: time.Unix(1700000000, 0),
		Certificate:  keystore.Certificate{Type: "X509", Content: p.ca.Raw},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(storePW)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (p testPKI) p12Keystore(t testing.TB, pw string) []byte {
	t.Helper()
	b, err := pkcs12.Modern.Encode(p.leafKey, p.leaf, []*x509.Certificate{p.ca}, pw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (p testPKI) p12Truststore(t testing.TB, pw string) []byte {
	t.Helper()
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{p.ca}, pw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
