package javaconfig

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig/javaconfigtest"
)

const storePW = "s3cret-store-pw"

func TestOpenStore(t *testing.T) {
	expiry := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	pki := javaconfigtest.NewPKI(t, expiry)
	tests := []struct {
		name     string
		role     string
		data     []byte
		password string
		wantType StoreType
		wantErr  error
		// subjects of the certificates, private-key chain first
		wantSubjects []string
	}{
		{"JKS keystore", RoleKeystore, pki.JKSKeystore(t, storePW, storePW), storePW, JKS, nil,
			[]string{"CN=connect-worker", "CN=Test CA,O=mm2-ecs tests"}},
		{"JKS truststore", RoleTruststore, pki.JKSTruststore(t, storePW), storePW, JKS, nil,
			[]string{"CN=Test CA,O=mm2-ecs tests"}},
		{"PKCS12 keystore", RoleKeystore, pki.P12Keystore(t, storePW), storePW, PKCS12, nil,
			[]string{"CN=connect-worker", "CN=Test CA,O=mm2-ecs tests"}},
		{"PKCS12 truststore", RoleTruststore, pki.P12Truststore(t, storePW), storePW, PKCS12, nil,
			[]string{"CN=Test CA,O=mm2-ecs tests"}},
		{"JKS wrong password", RoleKeystore, pki.JKSKeystore(t, storePW, storePW), "wrong", "", ErrWrongPassword, nil},
		{"PKCS12 wrong password", RoleKeystore, pki.P12Keystore(t, storePW), "wrong", "", ErrWrongPassword, nil},
		{"PKCS12 truststore wrong password", RoleTruststore, pki.P12Truststore(t, storePW), "wrong", "", ErrWrongPassword, nil},
		{"JKS truncated", RoleKeystore, pki.JKSKeystore(t, storePW, storePW)[:200], storePW, "", ErrCorruptStore, nil},
		{"PKCS12 truncated", RoleKeystore, pki.P12Keystore(t, storePW)[:300], storePW, "", ErrCorruptStore, nil},
		{"not a store", RoleKeystore, []byte("hello, this is text"), storePW, "", ErrUnknownStoreType, nil},
		{"PEM", RoleTruststore, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), storePW, "", ErrUnknownStoreType, nil},
		{"JCEKS", RoleKeystore, []byte{0xCE, 0xCE, 0xCE, 0xCE, 0, 0, 0, 2}, storePW, "", ErrUnknownStoreType, nil},
		{"empty", RoleKeystore, nil, storePW, "", ErrUnknownStoreType, nil},
		{"truststore as keystore", RoleKeystore, pki.JKSTruststore(t, storePW), storePW, "", ErrEmptyStore, nil},
		{"PKCS12 keystore as truststore", RoleTruststore, pki.P12Keystore(t, storePW), storePW, "", ErrCorruptStore, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenStore(tt.role, tt.data, tt.password)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), storePW) {
					t.Fatalf("error %q holds the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Type != tt.wantType || s.Role != tt.role {
				t.Errorf("type %s role %s, want %s %s", s.Type, s.Role, tt.wantType, tt.role)
			}
			var subjects []string
			for _, c := range s.Certificates {
				subjects = append(subjects, c.Subject)
				if c.Subject == "CN=connect-worker" && !c.NotAfter.Equal(expiry) {
					t.Errorf("leaf NotAfter %s, want %s", c.NotAfter, expiry)
				}
			}
			if strings.Join(subjects, "|") != strings.Join(tt.wantSubjects, "|") {
				t.Errorf("subjects %q, want %q", subjects, tt.wantSubjects)
			}
			if len(s.KeyPasswordDiffers) != 0 {
				t.Errorf("KeyPasswordDiffers = %v, want none", s.KeyPasswordDiffers)
			}
		})
	}
}

func TestOpenStoreJKSKeyPasswordDiffers(t *testing.T) {
	pki := javaconfigtest.NewPKI(t, time.Now().Add(time.Hour*24*365))
	s, err := OpenStore(RoleKeystore, pki.JKSKeystore(t, storePW, "other-key-pw"), storePW)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.KeyPasswordDiffers) != 1 || s.KeyPasswordDiffers[0] != "worker" {
		t.Errorf("KeyPasswordDiffers = %v, want [worker]", s.KeyPasswordDiffers)
	}
}

func TestDetectType(t *testing.T) {
	pki := javaconfigtest.NewPKI(t, time.Now().Add(time.Hour*24*365))
	for _, tt := range []struct {
		name string
		b    []byte
		want StoreType
	}{
		{"jks", pki.JKSTruststore(t, "x"), JKS},
		{"p12", pki.P12Truststore(t, "x"), PKCS12},
		{"short DER", []byte{0x30, 0x03, 1, 2, 3}, ""},
	} {
		got, err := detectType(tt.b)
		if got != tt.want || (tt.want == "") != (err != nil) {
			t.Errorf("%s: detectType = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func FuzzOpenStore(f *testing.F) {
	// Seeds must be the same in every fuzzing process, so they are files
	// (made with package javaconfigtest, password "changeit").
	f.Add(readFixture(f, "seed-keystore.jks"), "changeit", true)
	f.Add(readFixture(f, "seed-truststore.jks"), "changeit", false)
	f.Add(readFixture(f, "seed-keystore.p12"), "changeit", true)
	f.Add(readFixture(f, "seed-truststore.p12"), "changeit", false)
	f.Fuzz(func(t *testing.T, b []byte, pw string, key bool) {
		role := RoleTruststore
		if key {
			role = RoleKeystore
		}
		s, err := OpenStore(role, b, pw)
		if err != nil {
			for _, want := range []error{ErrUnknownStoreType, ErrWrongPassword, ErrCorruptStore, ErrEmptyStore} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("error %v is none of the package's kinds", err)
		}
		if s.Type != JKS && s.Type != PKCS12 {
			t.Fatalf("opened with type %q", s.Type)
		}
	})
}
