package javaconfig

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
)

const jksMagic = 0xFEEDFEED

// loadJKS reads a JKS store with its password after checkJKSBounds. The
// error is ErrWrongPassword or ErrCorruptStore, without the "JKS" the
// caller adds, and never holds the password.
func loadJKS(b []byte, password string) (keystore.KeyStore, error) {
	ks := keystore.New(keystore.WithCaseExactAliases(), keystore.WithOrderedAliases())
	if err := checkJKSBounds(b); err != nil {
		return ks, err
	}
	if err := ks.Load(bytes.NewReader(b), []byte(password)); err != nil {
		// The digest covers the password and every byte: a mismatch is
		// a wrong password far more often than an altered file.
		if strings.Contains(err.Error(), "invalid digest") {
			return ks, fmt.Errorf("%w (or the file was altered)", ErrWrongPassword)
		}
		return ks, fmt.Errorf("%w: %v", ErrCorruptStore, err)
	}
	return ks, nil
}

// checkJKSBounds walks the JKS layout and checks every count and length
// against the bytes that are left. The JKS library allocates whatever a
// length field claims before reading, so a corrupt file could otherwise ask
// for gigabytes and kill the process instead of failing cleanly.
func checkJKSBounds(b []byte) error {
	r := jksReader{b: b}
	if r.u32() != jksMagic {
		return fmt.Errorf("%w: no JKS magic number (not a JKS file?)", ErrCorruptStore)
	}
	version := r.u32()
	if version != 1 && version != 2 {
		return fmt.Errorf("%w: unknown version %d", ErrCorruptStore, version)
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
			if r.err == nil {
				return fmt.Errorf("%w: entry %d has unknown tag %d", ErrCorruptStore, i, tag)
			}
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
		return fmt.Errorf("%w: %v", ErrCorruptStore, r.err)
	}
	return nil
}

// jksReader reads big-endian fields; the first read past the end sets err
// and turns every later read into a no-op returning zero.
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
