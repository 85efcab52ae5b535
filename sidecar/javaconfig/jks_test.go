package javaconfig

import (
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig/javaconfigtest"
)

// claim is the length the oversized stores below claim, and chainClaim
// their chain length: a trusting reader allocates 256 MiB and 160 MiB for
// them. maxAlloc is far above what reading a small store takes and far
// below either.
const (
	claim      = 256 << 20
	chainClaim = 4 << 20
	maxAlloc   = 8 << 20
)

// oversized is one store per JKSField, each claiming about as much as the
// others.
func oversized() map[javaconfigtest.JKSField][]byte {
	return map[javaconfigtest.JKSField][]byte{
		javaconfigtest.CertificateLength: javaconfigtest.OversizedJKS(javaconfigtest.CertificateLength, claim),
		javaconfigtest.KeyLength:         javaconfigtest.OversizedJKS(javaconfigtest.KeyLength, claim),
		javaconfigtest.ChainLength:       javaconfigtest.OversizedJKS(javaconfigtest.ChainLength, chainClaim),
	}
}

func TestCheckJKSBounds(t *testing.T) {
	pki := javaconfigtest.NewPKI(t, time.Now().Add(24*time.Hour))
	keystoreJKS := pki.JKSKeystore(t, storePW, storePW)
	withVersion := func(b []byte, v uint32) []byte {
		b = append([]byte(nil), b...)
		binary.BigEndian.PutUint32(b[4:], v)
		return b
	}
	withTag := func(b []byte, tag uint32) []byte {
		b = append([]byte(nil), b...)
		binary.BigEndian.PutUint32(b[12:], tag)
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want string // empty: within bounds
	}{
		{"keystore", keystoreJKS, ""},
		{"truststore", pki.JKSTruststore(t, storePW), ""},
		{"seed keystore", readFixture(t, "seed-keystore.jks"), ""},
		{"seed truststore", readFixture(t, "seed-truststore.jks"), ""},
		{"certificate length", javaconfigtest.OversizedJKS(javaconfigtest.CertificateLength, claim), "length 268435456 at offset 39 runs past the end"},
		{"key length", javaconfigtest.OversizedJKS(javaconfigtest.KeyLength, claim), "length 268435456 at offset 36 runs past the end"},
		{"chain length", javaconfigtest.OversizedJKS(javaconfigtest.ChainLength, chainClaim), "runs past the end"},
		{"digest cut off", keystoreJKS[:len(keystoreJKS)-1], "length 20 at offset"},
		{"cut in an entry", keystoreJKS[:200], "runs past the end"},
		{"cut before an entry", keystoreJKS[:12], "length 4 at offset 12 runs past the end"},
		{"unknown version", withVersion(keystoreJKS, 3), "unknown version 3"},
		{"unknown tag", withTag(keystoreJKS, 7), "entry 0 has unknown tag 7"},
		{"not JKS", []byte("0123456789abcdef0123456789"), "no JKS magic number"},
		{"empty", nil, "no JKS magic number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkJKSBounds(tt.b)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrCorruptStore) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %v containing %q", err, ErrCorruptStore, tt.want)
			}
		})
	}
}

// Every way in from outside refuses an oversized JKS store before the
// library allocates what its fields claim.
func TestOversizedJKSRefusedBeforeAllocating(t *testing.T) {
	open := map[string]func(b []byte) error{
		"OpenStore keystore":   func(b []byte) error { _, err := OpenStore(RoleKeystore, b, storePW); return err },
		"OpenStore truststore": func(b []byte) error { _, err := OpenStore(RoleTruststore, b, storePW); return err },
		"TrustedCertificates":  func(b []byte) error { _, err := TrustedCertificates(JKS, b, storePW); return err },
		"KeyPair":              func(b []byte) error { _, err := KeyPair(JKS, b, storePW, storePW); return err },
	}
	for name, f := range open {
		for field, b := range oversized() {
			var err error
			if n := javaconfigtest.Allocated(func() { err = f(b) }); n > maxAlloc {
				t.Errorf("%s, field %d: allocated %d bytes for a %d-byte store", name, field, n, len(b))
			}
			if !errors.Is(err, ErrCorruptStore) || !strings.Contains(err.Error(), "runs past the end") {
				t.Errorf("%s, field %d: err = %v, want a corrupt store running past the end", name, field, err)
			}
		}
	}
}

// FuzzJKSBounds checks checkJKSBounds against the library's decoder: a
// store within bounds never makes the decoder run out of bytes, so the
// walk follows the same layout; the decoder runs only on such stores,
// since on the others it could allocate gigabytes.
func FuzzJKSBounds(f *testing.F) {
	f.Add(readFixture(f, "seed-keystore.jks"))
	f.Add(readFixture(f, "seed-truststore.jks"))
	f.Add(javaconfigtest.OversizedJKS(javaconfigtest.CertificateLength, claim))
	f.Add(javaconfigtest.OversizedJKS(javaconfigtest.KeyLength, 4))
	f.Add(javaconfigtest.OversizedJKS(javaconfigtest.ChainLength, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkJKSBounds(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptStore) {
				t.Fatalf("error %v is not %v", err, ErrCorruptStore)
			}
			return
		}
		ks := keystore.New()
		if err := ks.Load(strings.NewReader(string(b)), []byte("changeit")); errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("within bounds, but the decoder ran out of bytes: %v", err)
		}
	})
}
