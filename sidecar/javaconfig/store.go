package javaconfig

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// StoreType is the container format of a keystore or truststore, spelled
// as Java's KeyStore types are.
type StoreType string

// The store formats Kafka reads. OpenStore checks JKS and PKCS12 files;
// TrustedCertificates and KeyPair also read PEM.
const (
	JKS    StoreType = "JKS"
	PKCS12 StoreType = "PKCS12"
	PEM    StoreType = "PEM"
)

// Roles of a store, as used in file names and the certificate-expiry metric.
const (
	RoleKeystore   = "keystore"
	RoleTruststore = "truststore"
)

// Errors callers branch on.
var (
	ErrUnknownStoreType  = errors.New("not a JKS or PKCS#12 store")
	ErrWrongPassword     = errors.New("password does not open the store")
	ErrWrongKeyPassword  = errors.New("key password does not decrypt the private key")
	ErrCorruptStore      = errors.New("store is corrupt")
	ErrEmptyStore        = errors.New("store holds no usable entry")
	errUnsupportedFormat = errors.New("store type must be JKS, PKCS12 or PEM")
)

// Certificate is one certificate found in a store. Subject and Issuer are
// RFC 2253 strings; they are public data and safe to log.
type Certificate struct {
	// Alias is the JKS entry's alias, shared by every certificate of a key
	// entry's chain; PKCS#12 has none read, so there it is the subject of
	// the certificate (of the leaf, for a key's chain).
	Alias string
	// Subject is the certificate's subject.
	Subject string
	// Issuer is the subject of the certificate that signed it.
	Issuer string
	// NotBefore is the start of the certificate's validity.
	NotBefore time.Time
	// NotAfter is the end of the certificate's validity: it has expired
	// after it.
	NotAfter time.Time
	// PrivateKey is true for a certificate of a private-key entry's chain,
	// false for a trusted-certificate entry.
	PrivateKey bool
}

// Store is a keystore or truststore that opened with its password.
type Store struct {
	// Role is RoleKeystore or RoleTruststore.
	Role string
	// Type is the format the store's bytes are in.
	Type StoreType
	// Certificates lists every certificate, sorted by alias.
	Certificates []Certificate
	// KeyPasswordDiffers lists private-key aliases whose key does not
	// decrypt with the store password (JKS only): Connect then needs
	// ssl.key.password.
	KeyPasswordDiffers []string
}

const jceksMagic = 0xCECECECE

// detectType tells JKS from PKCS#12 by the bytes: JKS starts with the magic
// number 0xFEEDFEED, PKCS#12 is a DER SEQUENCE.
func detectType(b []byte) (StoreType, error) {
	switch {
	case len(b) >= 4 && binary.BigEndian.Uint32(b) == jksMagic:
		return JKS, nil
	case len(b) >= 4 && binary.BigEndian.Uint32(b) == jceksMagic:
		return "", fmt.Errorf("%w: JCEKS is not supported, convert it to PKCS#12", ErrUnknownStoreType)
	case bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")):
		return "", fmt.Errorf("%w: PEM text is not supported here, convert it to PKCS#12", ErrUnknownStoreType)
	case len(b) >= 2 && b[0] == 0x30 && b[1]&0x80 != 0:
		// Every real PKCS#12 file is longer than 127 bytes, so its
		// SEQUENCE uses the long length form.
		return PKCS12, nil
	}
	return "", ErrUnknownStoreType
}

// OpenStore detects the store's type, opens it with password and lists its
// certificates. A keystore must hold a private key; a truststore must hold
// trusted certificates. Errors never contain the password.
func OpenStore(role string, b []byte, password string) (Store, error) {
	t, err := detectType(b)
	if err != nil {
		return Store{}, err
	}
	s := Store{Role: role, Type: t}
	switch t {
	case JKS:
		err = openJKS(&s, b, password)
	default:
		err = openPKCS12(&s, b, password)
	}
	if err != nil {
		return Store{}, err
	}
	sort.SliceStable(s.Certificates, func(i, j int) bool { return s.Certificates[i].Alias < s.Certificates[j].Alias })
	return s, nil
}

func openJKS(s *Store, b []byte, password string) error {
	ks, err := loadJKS(b, password)
	if err != nil {
		return fmt.Errorf("JKS: %w", err)
	}
	keys := 0
	for _, alias := range ks.Aliases() {
		switch {
		case ks.IsPrivateKeyEntry(alias):
			keys++
			chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
			if err != nil {
				return fmt.Errorf("JKS entry %q: %w: %v", alias, ErrCorruptStore, err)
			}
			for _, c := range chain {
				if err := s.add(alias, c.Content, true); err != nil {
					return fmt.Errorf("JKS entry %q: %w", alias, err)
				}
			}
			if _, err := ks.GetPrivateKeyEntry(alias, []byte(password)); err != nil {
				s.KeyPasswordDiffers = append(s.KeyPasswordDiffers, alias)
			}
		case ks.IsTrustedCertificateEntry(alias):
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return fmt.Errorf("JKS entry %q: %w: %v", alias, ErrCorruptStore, err)
			}
			if err := s.add(alias, e.Certificate.Content, false); err != nil {
				return fmt.Errorf("JKS entry %q: %w", alias, err)
			}
		}
	}
	return s.checkEntries(keys)
}

func openPKCS12(s *Store, b []byte, password string) error {
	if s.Role == RoleTruststore {
		certs, err := pkcs12.DecodeTrustStore(b, password)
		if err != nil {
			return fmt.Errorf("PKCS#12: %w", pkcs12Error(err))
		}
		for _, c := range certs {
			s.addCert(c.Subject.String(), c, false)
		}
		return s.checkEntries(0)
	}
	_, leaf, cas, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		return fmt.Errorf("PKCS#12: %w", pkcs12Error(err))
	}
	alias := leaf.Subject.String()
	s.addCert(alias, leaf, true)
	for _, c := range cas {
		s.addCert(alias, c, true)
	}
	return s.checkEntries(1)
}

// pkcs12Error sorts a go-pkcs12 error into ErrWrongPassword or
// ErrCorruptStore; the library's messages hold no password.
func pkcs12Error(err error) error {
	if errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) {
		return ErrWrongPassword
	}
	return fmt.Errorf("%w: %v", ErrCorruptStore, strings.TrimPrefix(err.Error(), "pkcs12: "))
}

func (s *Store) add(alias string, der []byte, key bool) error {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("%w: certificate: %v", ErrCorruptStore, err)
	}
	s.addCert(alias, c, key)
	return nil
}

func (s *Store) addCert(alias string, c *x509.Certificate, key bool) {
	s.Certificates = append(s.Certificates, Certificate{
		Alias:      alias,
		Subject:    c.Subject.String(),
		Issuer:     c.Issuer.String(),
		NotBefore:  c.NotBefore,
		NotAfter:   c.NotAfter,
		PrivateKey: key,
	})
}

func (s *Store) checkEntries(keys int) error {
	switch {
	case s.Role == RoleKeystore && keys == 0:
		return fmt.Errorf("%w: a keystore needs a private-key entry", ErrEmptyStore)
	case s.Role == RoleTruststore && s.trusted() == 0:
		// Java would also trust the leaf of a key entry, but a truststore
		// without trusted entries is almost always the keystore uploaded
		// in its place.
		return fmt.Errorf("%w: a truststore needs trusted-certificate entries", ErrEmptyStore)
	}
	return nil
}

func (s *Store) trusted() int {
	n := 0
	for _, c := range s.Certificates {
		if !c.PrivateKey {
			n++
		}
	}
	return n
}
