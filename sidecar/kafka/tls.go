package kafka

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// tlsConfig turns Kafka's ssl.* client settings into a tls.Config: trust
// and key stores of type JKS (Kafka's default), PKCS12 or PEM, and
// ssl.endpoint.identification.algorithm (https, the default, or empty to
// skip host-name checks while still verifying the chain).
func (c Cluster) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}

	roots, err := c.trustStore()
	if err != nil {
		return nil, err
	}
	tc.RootCAs = roots // nil: the system roots, as the JVM's default trust store

	cert, err := c.keyStore()
	if err != nil {
		return nil, err
	}
	if cert != nil {
		if err := c.checkNotExpired(cert.Certificate[0], time.Now()); err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{*cert}
	}

	switch alg := strings.ToLower(strings.TrimSpace(c.props["ssl.endpoint.identification.algorithm"])); {
	case alg == "https" || alg == "" && !c.has("ssl.endpoint.identification.algorithm"):
	case alg == "":
		// Verify the chain but not the host name, as Kafka does with an
		// empty algorithm.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	default:
		return nil, fmt.Errorf("%s=%q: must be https or empty", c.key("ssl.endpoint.identification.algorithm"), alg)
	}
	return tc, nil
}

func (c Cluster) has(name string) bool { _, ok := c.props[name]; return ok }

func (c Cluster) storeType(name string) (string, error) {
	t := strings.ToUpper(strings.TrimSpace(c.props[name]))
	switch t {
	case "":
		return "JKS", nil
	case "JKS", "PKCS12", "PEM":
		return t, nil
	}
	return "", fmt.Errorf("%s=%q: must be JKS, PKCS12 or PEM", c.key(name), c.props[name])
}

func (c Cluster) readStore(name string) ([]byte, error) {
	path := c.props[name]
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.key(name), err)
	}
	return b, nil
}

func (c Cluster) trustStore() (*x509.CertPool, error) {
	typ, err := c.storeType("ssl.truststore.type")
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	switch {
	case c.props["ssl.truststore.certificates"] != "":
		certs, err = pemCerts([]byte(c.props["ssl.truststore.certificates"]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.key("ssl.truststore.certificates"), err)
		}
	case c.props["ssl.truststore.location"] != "":
		raw, err := c.readStore("ssl.truststore.location")
		if err != nil {
			return nil, err
		}
		pw := c.props["ssl.truststore.password"]
		switch typ {
		case "PEM":
			certs, err = pemCerts(raw)
		case "PKCS12":
			certs, err = pkcs12Trust(raw, pw)
		default:
			certs, err = jksTrust(raw, pw)
		}
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", c.key("ssl.truststore.location"), typ, err)
		}
	default:
		return nil, nil
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate in the trust store", c.key("ssl.truststore.location"))
	}
	pool := x509.NewCertPool()
	for _, ct := range certs {
		pool.AddCert(ct)
	}
	return pool, nil
}

func (c Cluster) keyStore() (*tls.Certificate, error) {
	typ, err := c.storeType("ssl.keystore.type")
	if err != nil {
		return nil, err
	}
	if c.props["ssl.keystore.key"] != "" || c.props["ssl.keystore.certificate.chain"] != "" {
		if c.props["ssl.key.password"] != "" {
			return nil, fmt.Errorf("%s: encrypted PEM keys are not supported; give an unencrypted PKCS#8 key", c.key("ssl.key.password"))
		}
		cert, err := tls.X509KeyPair([]byte(c.props["ssl.keystore.certificate.chain"]), []byte(c.props["ssl.keystore.key"]))
		if err != nil {
			return nil, fmt.Errorf("%s and %s: %w", c.key("ssl.keystore.certificate.chain"), c.key("ssl.keystore.key"), err)
		}
		return &cert, nil
	}
	if c.props["ssl.keystore.location"] == "" {
		return nil, nil
	}
	raw, err := c.readStore("ssl.keystore.location")
	if err != nil {
		return nil, err
	}
	pw := c.props["ssl.keystore.password"]
	keyPW := c.props["ssl.key.password"]
	if keyPW == "" {
		keyPW = pw
	}
	var cert *tls.Certificate
	switch typ {
	case "PEM":
		if c.props["ssl.key.password"] != "" {
			return nil, fmt.Errorf("%s: encrypted PEM keys are not supported; give an unencrypted PKCS#8 key", c.key("ssl.key.password"))
		}
		var kp tls.Certificate
		kp, err = tls.X509KeyPair(raw, raw)
		cert = &kp
	case "PKCS12":
		cert, err = pkcs12Key(raw, pw)
	default:
		cert, err = jksKey(raw, pw, keyPW)
	}
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", c.key("ssl.keystore.location"), typ, err)
	}
	return cert, nil
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

func loadJKS(raw []byte, pw string) (keystore.KeyStore, error) {
	ks := keystore.New(keystore.WithMinPasswordLen(0))
	if err := ks.Load(bytes.NewReader(raw), []byte(pw)); err != nil {
		// keystore-go's messages do not contain the password.
		return ks, fmt.Errorf("read JKS (wrong password or not a JKS file?): %w", err)
	}
	return ks, nil
}

// jksTrust returns the trusted certificates of a JKS store, and the
// certificates of its key entries, which Java's trust manager also trusts.
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

// jksKey returns the first private-key entry of a JKS store.
func jksKey(raw []byte, storePW, keyPW string) (*tls.Certificate, error) {
	ks, err := loadJKS(raw, storePW)
	if err != nil {
		return nil, err
	}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPW))
		if err != nil {
			return nil, fmt.Errorf("key entry %q (wrong ssl.key.password?): %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("key entry %q: %w", alias, err)
		}
		cert := &tls.Certificate{PrivateKey: key}
		for _, ct := range e.CertificateChain {
			cert.Certificate = append(cert.Certificate, ct.Content)
		}
		if len(cert.Certificate) == 0 {
			return nil, fmt.Errorf("key entry %q has no certificate chain", alias)
		}
		return cert, nil
	}
	return nil, errors.New("no private key entry in the key store")
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
			return nil, fmt.Errorf("read PKCS#12 (wrong password?): %w", err)
		}
		return nil, fmt.Errorf("read PKCS#12 (wrong password?): %w", err2)
	}
	return append([]*x509.Certificate{leaf}, cas...), nil
}

func pkcs12Key(raw []byte, pw string) (*tls.Certificate, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(raw, pw)
	if err != nil {
		return nil, fmt.Errorf("read PKCS#12 (wrong password?): %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("PKCS#12 key is not a signing key")
	}
	cert := &tls.Certificate{PrivateKey: signer, Certificate: [][]byte{leaf.Raw}, Leaf: leaf}
	for _, ca := range cas {
		cert.Certificate = append(cert.Certificate, ca.Raw)
	}
	return cert, nil
}
