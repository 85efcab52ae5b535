// Package javaconfigtest makes certificates and the JKS and PKCS#12 stores
// that hold them, for tests of code that opens stores. It makes stores
// only; reading them is package javaconfig's.
package javaconfigtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// PKI is a CA and a leaf ("CN=connect-worker") it signed, made fresh for
// each test.
type PKI struct {
	// CA is the self-signed CA certificate, "CN=Test CA,O=mm2-ecs tests".
	CA *x509.Certificate
	// Leaf is the client certificate the CA signed.
	Leaf    *x509.Certificate
	caKey   *ecdsa.PrivateKey
	leafKey *ecdsa.PrivateKey
}

// NewPKI makes a CA valid for ten years and a leaf valid until
// leafNotAfter (a past time makes an expired leaf).
func NewPKI(t testing.TB, leafNotAfter time.Time) PKI {
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
	return PKI{CA: ca, Leaf: leaf, caKey: caKey, leafKey: leafKey}
}

// JKSKeystore is a JKS store with one private-key entry, alias "worker":
// the leaf's key, encrypted with keyPW, and the chain leaf, CA.
func (p PKI) JKSKeystore(t testing.TB, storePW, keyPW string) []byte {
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
			{Type: "X509", Content: p.Leaf.Raw},
			{Type: "X509", Content: p.CA.Raw},
		},
	}, []byte(keyPW))
	if err != nil {
		t.Fatal(err)
	}
	return storeJKS(t, ks, storePW)
}

// JKSTruststore is a JKS store with the CA as its one trusted entry,
// alias "ca".
func (p PKI) JKSTruststore(t testing.TB, storePW string) []byte {
	t.Helper()
	ks := keystore.New()
	err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{
		CreationTime: time.Unix(1700000000, 0),
		Certificate:  keystore.Certificate{Type: "X509", Content: p.CA.Raw},
	})
	if err != nil {
		t.Fatal(err)
	}
	return storeJKS(t, ks, storePW)
}

// P12Keystore is a PKCS#12 store with the leaf's key and the chain leaf,
// CA.
func (p PKI) P12Keystore(t testing.TB, pw string) []byte {
	t.Helper()
	b, err := pkcs12.Modern.Encode(p.leafKey, p.Leaf, []*x509.Certificate{p.CA}, pw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// P12Truststore is a PKCS#12 store with the CA as a Java trusted entry.
func (p PKI) P12Truststore(t testing.TB, pw string) []byte {
	t.Helper()
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{p.CA}, pw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// PEMKeystore is the leaf, the CA and the leaf's unencrypted PKCS#8 key
// as PEM text.
func (p PKI) PEMKeystore(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(p.leafKey)
	if err != nil {
		t.Fatal(err)
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Leaf.Raw})
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.CA.Raw})...)
	return append(b, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
}

// PEMTruststore is the CA as PEM text.
func (p PKI) PEMTruststore() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.CA.Raw})
}

// storeJKS serializes ks with the store password storePW.
func storeJKS(t testing.TB, ks keystore.KeyStore, storePW string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(storePW)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
