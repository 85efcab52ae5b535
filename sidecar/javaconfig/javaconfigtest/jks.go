package javaconfigtest

import (
	"encoding/binary"
	"runtime"
)

// JKSField is a length or count field of a JKS store that a reader
// allocates for before reading what it claims.
type JKSField int

// The fields OversizedJKS can make claim too much.
const (
	// CertificateLength is the length of a trusted entry's certificate.
	CertificateLength JKSField = iota
	// KeyLength is the length of a private-key entry's encrypted key.
	KeyLength
	// ChainLength is the number of certificates in a private-key entry's
	// chain.
	ChainLength
)

// OversizedJKS is a version-2 JKS store of one entry, under 100 bytes,
// whose field claims n bytes (or certificates): a truncated or tampered
// store that would make a reader trusting the field allocate that much.
// Everything the field does not claim is well formed.
func OversizedJKS(field JKSField, n uint32) []byte {
	var b []byte
	u16 := func(v uint16) { b = binary.BigEndian.AppendUint16(b, v) }
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	str := func(s string) { u16(uint16(len(s))); b = append(b, s...) }
	u32(0xFEEDFEED) // magic
	u32(2)          // version
	u32(1)          // entries
	if field == CertificateLength {
		u32(2) // trusted certificate
		str("ca")
		b = append(b, make([]byte, 8)...) // creation time
		str("X.509")
		u32(n)
	} else {
		u32(1) // private key
		str("worker")
		b = append(b, make([]byte, 8)...)
		if field == KeyLength {
			u32(n)
		} else {
			u32(4)
			b = append(b, 1, 2, 3, 4)
			u32(n)
		}
	}
	// A few bytes of what would follow, and room for the digest.
	return append(b, make([]byte, 32)...)
}

// Allocated reports how many bytes of heap f allocated, with whatever
// other goroutines allocated meanwhile: a bound, not an exact count.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
