package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Inspect opens the stores a bootstrap wrote into cfg.ConfigDir
// (keystore.jks or keystore.p12, truststore.jks or truststore.p12) with
// cfg's passwords and returns them with their certificates, so that a
// long-running process can export each certificate's expiry. A store that
// is absent is skipped; one that does not open is an error naming the
// file, and the stores that did open are still returned.
func Inspect(ctx context.Context, cfg Config) ([]Store, error) {
	var stores []Store
	var errs []error
	for _, in := range []struct{ role, password string }{
		{RoleKeystore, cfg.KeystorePassword},
		{RoleTruststore, cfg.TruststorePassword},
	} {
		for _, t := range []StoreType{JKS, PKCS12} {
			if err := ctx.Err(); err != nil {
				return stores, err
			}
			path := filepath.Join(cfg.ConfigDir, in.role+"."+t.Ext())
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("inspect %s: %w", path, err))
				continue
			}
			s, err := OpenStore(in.role, b, in.password)
			if err != nil {
				errs = append(errs, fmt.Errorf("inspect %s: %w", path, err))
				continue
			}
			s.Path = path
			stores = append(stores, s)
		}
	}
	return stores, errors.Join(errs...)
}
