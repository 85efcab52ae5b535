package javaconfig

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// TrustedCertificates returns the certificates a Java client trusts from a
// truststore of type t: the trusted entries of a JKS store and the first
// certificate of each key entry (Java's trust manager takes both), the
// certificates of a PKCS#12 store, or every CERTIFICATE block of PEM text
// (password unused). An empty JKS store gives no certificate and no error.
func TrustedCertificates(t StoreType, b []byte, password string) ([]*x509.Certificate, error) {
	switch t {
	case JKS:
		return jksTrust(b, password)
	case PKCS12:
		return pkcs12Trust(b, password)
	case PEM:
		return pemCerts(b)
	}
	return nil, fmt.Errorf("%w, not %q", errUnsupportedFormat, t)
}

// KeyPair returns the client certificate of a keystore of type t: the
// first private-key entry of a JKS store, decrypted with keyPassword; the
// key and chain of a PKCS#12 store; or the certificate chain and
// unencrypted PKCS#8 key of PEM text (passwords unused).
func KeyPair(t StoreType, b []byte, storePassword, keyPassword string) (tls.Certificate, error) {
	switch t {
	case JKS:
		return jksKey(b, storePassword, keyPassword)
	case PKCS12:
		return pkcs12Key(b, storePassword)
	case PEM:
		return tls.X509KeyPair(b, b)
	}
	return tls.Certificate{}, fmt.Errorf("%w, not %q", errUnsupportedFormat, t)
}

func pemCerts(raw []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		ct, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, ct)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}

func jksTrust(raw []byte, pw string) ([]*x509.Certificate, error) {
	ks, err := loadJKS(raw, pw)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, alias := range ks.Aliases() {
		var der []byte
		switch {
		case ks.IsTrustedCertificateEntry(alias):
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return nil, fmt.Errorf("entry %q: %w", alias, err)
			}
			der = e.Certificate.Content
		case ks.IsPrivateKeyEntry(alias):
			chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
			if err != nil || len(chain) == 0 {
				continue
			}
			der = chain[0].Content
		default:
			continue
		}
		ct, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", alias, err)
		}
		certs = append(certs, ct)
	}
	return certs, nil
}

func jksKey(raw []byte, storePW, keyPW string) (tls.Certificate, error) {
	ks, err := loadJKS(raw, storePW)
	if err != nil {
		return tls.Certificate{}, err
	}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPW))
		if err != nil {
			if strings.Contains(err.Error(), "invalid digest") {
				return tls.Certificate{}, fmt.Errorf("key entry %q: %w", alias, ErrWrongKeyPassword)
			}
			return tls.Certificate{}, fmt.Errorf("key entry %q: %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("key entry %q: %w", alias, err)
		}
		cert := tls.Certificate{PrivateKey: key}
		for _, ct := range e.CertificateChain {
			cert.Certificate = append(cert.Certificate, ct.Content)
		}
		if len(cert.Certificate) == 0 {
			return tls.Certificate{}, fmt.Errorf("key entry %q has no certificate chain", alias)
		}
		return cert, nil
	}
	return tls.Certificate{}, errors.New("no private key entry in the key store")
}

func pkcs12Trust(raw []byte, pw string) ([]*x509.Certificate, error) {
	certs, err := pkcs12.DecodeTrustStore(raw, pw)
	if err == nil && len(certs) > 0 {
		return certs, nil
	}
	// A PKCS#12 file made by openssl has no Java trust attribute; trust
	// the certificates it carries, as keytool would after import.
	_, leaf, cas, err2 := pkcs12.DecodeChain(raw, pw)
	if err2 != nil {
		if err != nil {
			return nil, pkcs12Error(err)
		}
		return nil, pkcs12Error(err2)
	}
	return append([]*x509.Certificate{leaf}, cas...), nil
}

func pkcs12Key(raw []byte, pw string) (tls.Certificate, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(raw, pw)
	if err != nil {
		return tls.Certificate{}, pkcs12Error(err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, errors.New("PKCS#12 key is not a signing key")
	}
	cert := tls.Certificate{PrivateKey: signer, Certificate: [][]byte{leaf.Raw}, Leaf: leaf}
	for _, ca := range cas {
		cert.Certificate = append(cert.Certificate, ca.Raw)
	}
	return cert, nil
}
