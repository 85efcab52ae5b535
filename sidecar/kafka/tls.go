package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
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

func (c Cluster) storeType(name string) (javaconfig.StoreType, error) {
	switch t := javaconfig.StoreType(strings.ToUpper(strings.TrimSpace(c.props[name]))); t {
	case "":
		return javaconfig.JKS, nil
	case javaconfig.JKS, javaconfig.PKCS12, javaconfig.PEM:
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
		certs, err = javaconfig.TrustedCertificates(javaconfig.PEM, []byte(c.props["ssl.truststore.certificates"]), "")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.key("ssl.truststore.certificates"), err)
		}
	case c.props["ssl.truststore.location"] != "":
		raw, err := c.readStore("ssl.truststore.location")
		if err != nil {
			return nil, err
		}
		certs, err = javaconfig.TrustedCertificates(typ, raw, c.props["ssl.truststore.password"])
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
	if typ == javaconfig.PEM && c.props["ssl.key.password"] != "" {
		return nil, fmt.Errorf("%s: encrypted PEM keys are not supported; give an unencrypted PKCS#8 key", c.key("ssl.key.password"))
	}
	pw := c.props["ssl.keystore.password"]
	keyPW := c.props["ssl.key.password"]
	if keyPW == "" {
		keyPW = pw
	}
	cert, err := javaconfig.KeyPair(typ, raw, pw, keyPW)
	if errors.Is(err, javaconfig.ErrWrongKeyPassword) {
		return nil, fmt.Errorf("%s (%s): %w (check %s)", c.key("ssl.keystore.location"), typ, err, c.key("ssl.key.password"))
	}
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", c.key("ssl.keystore.location"), typ, err)
	}
	return &cert, nil
}
