package kafka

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig/javaconfigtest"
)

// A key or trust store named in a connector config is outside input: one
// whose length fields claim more than the file holds is refused, with the
// connector key named, before anything of the claimed size is allocated.
func TestClientRefusesOversizedJKS(t *testing.T) {
	const maxAlloc = 8 << 20 // the claims below are 256 MiB and 160 MiB
	stores := []struct {
		field string
		b     []byte
	}{
		{"certificate-length", javaconfigtest.OversizedJKS(javaconfigtest.CertificateLength, 256<<20)},
		{"key-length", javaconfigtest.OversizedJKS(javaconfigtest.KeyLength, 256<<20)},
		{"chain-length", javaconfigtest.OversizedJKS(javaconfigtest.ChainLength, 4<<20)},
	}
	dir := t.TempDir()
	for _, s := range stores {
		path := filepath.Join(dir, s.field+".jks")
		if err := os.WriteFile(path, s.b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, role := range []string{"truststore", "keystore"} {
			t.Run(role+" "+s.field, func(t *testing.T) {
				key := "source.cluster.ssl." + role + ".location"
				conf := map[string]string{
					"source.cluster.bootstrap.servers": "127.0.0.1:9093",
					"source.cluster.security.protocol": "SSL",
					key:                                path,
					"source.cluster.ssl." + role + ".password": storePW,
				}
				c, err := ClusterFromConnector(conf, Source, javaconfig.Resolver{})
				if err != nil {
					t.Fatal(err)
				}
				n := javaconfigtest.Allocated(func() { _, err = c.ClientOpts(context.Background()) })
				if n > maxAlloc {
					t.Errorf("allocated %d bytes for a %d-byte store", n, len(s.b))
				}
				want := fmt.Sprintf("%s (JKS): store is corrupt: ", key)
				if !errors.Is(err, javaconfig.ErrCorruptStore) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "runs past the end") {
					t.Fatalf("err = %v, want %q ... runs past the end", err, want)
				}
				if strings.Contains(err.Error(), storePW) {
					t.Errorf("error %q holds the password", err)
				}
			})
		}
	}
}
