package bootstrap

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// StoreType is the container format of a keystore or truststore.
type StoreType string

// The formats Kafka reads from a file that the sidecar can check.
const (
	JKS    StoreType = "JKS"
	PKCS12 StoreType = "PKCS12"
)

// Ext is the file extension the sidecar writes the store with.
func (t StoreType) Ext() string {
	if t == JKS {
		return "jks"
	}
	return "p12"
}

// Roles of a store, as used in file names and the certificate-expiry metric.
const (
	RoleKeystore   = "keystore"
	RoleTruststore = "truststore"
)

// Errors callers branch on.
var (
	ErrUnknownStoreType = errors.New("not a JKS or PKCS#12 store")
	ErrWrongPassword    = errors.New("password does not open the store")
	ErrCorruptStore     = errors.New("store is corrupt")
	ErrEmptyStore       = errors.New("store holds no usable entry")
)

// Certificate is one certificate found in a store. Subject and Issuer are
// RFC 2253 strings; they are public data and safe to log.
type Certificate struct {
	Alias      string
	Subject    string
	Issuer     string
	NotBefore  time.Time
	NotAfter   time.Time
	PrivateKey bool // part of a private-key entry's chain, not a trusted entry
}

// Store is a keystore or truststore that opened with its password.
type Store struct {
	Role         string // RoleKeystore or RoleTruststore
	Type         StoreType
	Path         string // where it is written; empty until then
	Certificates []Certificate
	// KeyPasswordDiffers lists private-key aliases whose key does not
	// decrypt with the store password (JKS only): Connect then needs
	// ssl.key.password.
	KeyPasswordDiffers []string
}

const (
	jksMagic   = 0xFEEDFEED
	jceksMagic = 0xCECECECE
)

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
	if err := checkJKSBounds(b); err != nil {
		return err
	}
	ks := keystore.New(keystore.WithCaseExactAliases(), keystore.WithOrderedAliases())
	pw := []byte(password)
	if err := ks.Load(bytes.NewReader(b), pw); err != nil {
		if strings.Contains(err.Error(), "invalid digest") {
			return fmt.Errorf("JKS: %w (or the file was altered)", ErrWrongPassword)
		}
		return fmt.Errorf("JKS: %w: %v", ErrCorruptStore, err)
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
			if _, err := ks.GetPrivateKeyEntry(alias, pw); err != nil {
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
			return pkcs12Error(err)
		}
		for _, c := range certs {
			s.addCert(c.Subject.String(), c, false)
		}
		return s.checkEntries(0)
	}
	_, leaf, cas, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		return pkcs12Error(err)
	}
	alias := leaf.Subject.String()
	s.addCert(alias, leaf, true)
	for _, c := range cas {
		s.addCert(alias, c, true)
	}
	return s.checkEntries(1)
}

func pkcs12Error(err error) error {
	if errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) {
		return fmt.Errorf("PKCS#12: %w", ErrWrongPassword)
	}
	return fmt.Errorf("PKCS#12: %w: %v", ErrCorruptStore, strings.TrimPrefix(err.Error(), "pkcs12: "))
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
		// Java's trust managers use trusted-certificate entries only.
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

// checkJKSBounds walks the JKS layout and checks every count and length
// against the bytes that are left. The JKS library allocates whatever a
// length field claims before reading, so a corrupt file could otherwise ask
// for gigabytes and kill the process instead of failing cleanly.
func checkJKSBounds(b []byte) error {
	r := jksReader{b: b}
	r.skip(4) // magic, checked by detectType
	version := r.u32()
	if version != 1 && version != 2 {
		return fmt.Errorf("JKS: %w: unknown version %d", ErrCorruptStore, version)
	}
	entries := r.u32()
	for i := uint32(0); i < entries && r.err == nil; i++ {
		tag := r.u32()
		r.skip(uint64(r.u16())) // alias
		r.skip(8)               // creation time
		certs := uint32(1)
		switch tag {
		case 1: // private key: encrypted key, then the chain
			r.skip(uint64(r.u32()))
			certs = r.u32()
		case 2: // trusted certificate
		default:
			return fmt.Errorf("JKS: %w: entry %d has unknown tag %d", ErrCorruptStore, i, tag)
		}
		for j := uint32(0); j < certs && r.err == nil; j++ {
			if version == 2 {
				r.skip(uint64(r.u16())) // certificate type
			}
			r.skip(uint64(r.u32()))
		}
	}
	r.skip(20) // SHA-1 digest
	if r.err != nil {
		return fmt.Errorf("JKS: %w: %v", ErrCorruptStore, r.err)
	}
	return nil
}

type jksReader struct {
	b   []byte
	off uint64
	err error
}

func (r *jksReader) skip(n uint64) {
	if r.err == nil && n > uint64(len(r.b))-r.off {
		r.err = fmt.Errorf("length %d at offset %d runs past the end (%d bytes)", n, r.off, len(r.b))
	}
	if r.err == nil {
		r.off += n
	}
}

func (r *jksReader) u16() uint16 {
	start := r.off
	if r.skip(2); r.err != nil {
		return 0
	}
	return binary.BigEndian.Uint16(r.b[start:])
}

func (r *jksReader) u32() uint32 {
	start := r.off
	if r.skip(4); r.err != nil {
		return 0
	}
	return binary.BigEndian.Uint32(r.b[start:])
}
