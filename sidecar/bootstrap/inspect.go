package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
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
		{javaconfig.RoleKeystore, cfg.KeystorePassword},
		{javaconfig.RoleTruststore, cfg.TruststorePassword},
	} {
		for _, t := range []javaconfig.StoreType{javaconfig.JKS, javaconfig.PKCS12} {
			if err := ctx.Err(); err != nil {
				return stores, err
			}
			path := filepath.Join(cfg.ConfigDir, storeFile(in.role, t))
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("inspect %s: %w", path, err))
				continue
			}
			s, err := javaconfig.OpenStore(in.role, b, in.password)
			if err != nil {
				errs = append(errs, fmt.Errorf("inspect %s: %w", path, err))
				continue
			}
			stores = append(stores, Store{Store: s, Path: path})
		}
	}
	return stores, errors.Join(errs...)
}
