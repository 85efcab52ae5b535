package javaconfig

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig/javaconfigtest"
)

func TestTrustedCertificates(t *testing.T) {
	pki := javaconfigtest.NewPKI(t, time.Now().Add(24*time.Hour))
	ca, leaf := pki.CA.Subject.String(), pki.Leaf.Subject.String()
	tests := []struct {
		name     string
		typ      StoreType
		b        []byte
		password string
		want     []string // subjects
		wantErr  error
		errText  string
	}{
		{"JKS truststore", JKS, pki.JKSTruststore(t, storePW), storePW, []string{ca}, nil, ""},
		// Java's trust manager also takes the leaf of a key entry.
		{"JKS keystore", JKS, pki.JKSKeystore(t, storePW, storePW), storePW, []string{leaf}, nil, ""},
		{"PKCS12 truststore", PKCS12, pki.P12Truststore(t, storePW), storePW, []string{ca}, nil, ""},
		// Without Java's trust attribute the chain it carries is trusted.
		{"PKCS12 keystore", PKCS12, pki.P12Keystore(t, storePW), storePW, []string{leaf, ca}, nil, ""},
		{"PEM", PEM, pki.PEMKeystore(t), "", []string{leaf, ca}, nil, ""},
		{"JKS wrong password", JKS, pki.JKSTruststore(t, storePW), "wrong-pw", nil, ErrWrongPassword, ""},
		{"PKCS12 wrong password", PKCS12, pki.P12Truststore(t, storePW), "wrong-pw", nil, ErrWrongPassword, ""},
		{"PKCS12 read as JKS", JKS, pki.P12Truststore(t, storePW), storePW, nil, ErrCorruptStore, "no JKS magic number"},
		{"JKS read as PKCS12", PKCS12, pki.JKSTruststore(t, storePW), storePW, nil, ErrCorruptStore, ""},
		{"PEM without a certificate", PEM, []byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"), "", nil, nil, "no PEM certificate found"},
		{"unknown type", "BKS", pki.JKSTruststore(t, storePW), storePW, nil, nil, `store type must be JKS, PKCS12 or PEM, not "BKS"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := TrustedCertificates(tt.typ, tt.b, tt.password)
			if tt.wantErr != nil || tt.errText != "" {
				if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.errText)
				}
				if strings.Contains(err.Error(), tt.password) && tt.password != "" {
					t.Errorf("error %q holds the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range certs {
				got = append(got, c.Subject.String())
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("subjects %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeyPair(t *testing.T) {
	pki := javaconfigtest.NewPKI(t, time.Now().Add(24*time.Hour))
	tests := []struct {
		name           string
		typ            StoreType
		b              []byte
		storePW, keyPW string
		wantErr        error
		errText        string
	}{
		{"JKS", JKS, pki.JKSKeystore(t, storePW, storePW), storePW, storePW, nil, ""},
		{"JKS with its own key password", JKS, pki.JKSKeystore(t, storePW, "key-pw-123"), storePW, "key-pw-123", nil, ""},
		{"PKCS12", PKCS12, pki.P12Keystore(t, storePW), storePW, "", nil, ""},
		{"PEM", PEM, pki.PEMKeystore(t), "", "", nil, ""},
		{"JKS wrong store password", JKS, pki.JKSKeystore(t, storePW, storePW), "wrong-pw", storePW, ErrWrongPassword, ""},
		{"JKS wrong key password", JKS, pki.JKSKeystore(t, storePW, "key-pw-123"), storePW, storePW, ErrWrongKeyPassword, `key entry "worker"`},
		{"PKCS12 wrong password", PKCS12, pki.P12Keystore(t, storePW), "wrong-pw", "", ErrWrongPassword, ""},
		{"JKS truststore", JKS, pki.JKSTruststore(t, storePW), storePW, storePW, nil, "no private key entry in the key store"},
		{"PEM certificate only", PEM, pki.PEMTruststore(), "", "", nil, "tls: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := KeyPair(tt.typ, tt.b, tt.storePW, tt.keyPW)
			if tt.wantErr != nil || tt.errText != "" {
				if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.errText)
				}
				for _, pw := range []string{storePW, "wrong-pw", "key-pw-123"} {
					if strings.Contains(err.Error(), pw) {
						t.Errorf("error %q holds a password", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cert.Certificate) < 2 || !bytes.Equal(cert.Certificate[0], pki.Leaf.Raw) || !bytes.Equal(cert.Certificate[1], pki.CA.Raw) {
				t.Errorf("chain of %d certificates, want leaf then CA", len(cert.Certificate))
			}
			leaf, err := x509.ParseCertificate(cert.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := checkKeyMatches(leaf, cert.PrivateKey); err != nil {
				t.Error(err)
			}
		})
	}
}

// checkKeyMatches reports whether key is the private half of leaf's key.
func checkKeyMatches(leaf *x509.Certificate, key any) error {
	pub, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return errors.New("key has no public half")
	}
	if eq, ok := pub.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(leaf.PublicKey) {
		return errors.New("key does not match the leaf")
	}
	return nil
}

// FuzzClientStores opens any bytes as each store type a client can name,
// as truststore and as keystore: no panic, no password in an error, and
// what opens is usable.
func FuzzClientStores(f *testing.F) {
	for _, name := range []string{"seed-keystore.jks", "seed-truststore.jks", "seed-keystore.p12", "seed-truststore.p12"} {
		f.Add(readFixture(f, name), "changeit")
	}
	f.Add(javaconfigtest.OversizedJKS(javaconfigtest.KeyLength, claim), "changeit")
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), "")
	f.Fuzz(func(t *testing.T, b []byte, pw string) {
		// A password shows in an error because of it only if another
		// password of its length does not show there too.
		other := strings.Repeat("#", len(pw))
		leaks := func(open func(pw string) error) bool {
			err := open(pw)
			if err == nil || len(pw) < 4 || pw == other || !strings.Contains(err.Error(), pw) {
				return false
			}
			again := open(other)
			return again == nil || !strings.Contains(again.Error(), pw)
		}
		for _, typ := range []StoreType{JKS, PKCS12, PEM} {
			certs, err := TrustedCertificates(typ, b, pw)
			for _, c := range certs {
				if c == nil {
					t.Fatalf("%s truststore: nil certificate", typ)
				}
			}
			if err != nil && leaks(func(pw string) error { _, err := TrustedCertificates(typ, b, pw); return err }) {
				t.Fatalf("%s truststore: error %q holds the password", typ, err)
			}
			cert, err := KeyPair(typ, b, pw, pw)
			if err == nil && (len(cert.Certificate) == 0 || cert.PrivateKey == nil) {
				t.Fatalf("%s keystore opened without a chain or key", typ)
			}
			if err != nil && leaks(func(pw string) error { _, err := KeyPair(typ, b, pw, pw); return err }) {
				t.Fatalf("%s keystore: error %q holds the password", typ, err)
			}
		}
	})
}
