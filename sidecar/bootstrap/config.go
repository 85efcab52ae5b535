package bootstrap

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

// Config configures `connect-sidecar bootstrap`. The three URIs keep the
// names of the original toolkit so that existing task definitions still work.
type Config struct {
	// PropertiesURI (KAFKA_CONNECT_PROPERTIES_S3_URI) is the worker
	// properties' object, s3:// or file://; empty reads BaseProperties.
	PropertiesURI string `envconfig:"KAFKA_CONNECT_PROPERTIES_S3_URI" desc:"worker properties: s3://bucket/key[?versionId=…] (needs AWS_REGION) or file:///path"`
	// KeystoreURI (KAFKA_CONNECT_KEYSTORE_S3_URI) is the JKS or PKCS#12
	// keystore's object; empty writes no keystore.
	KeystoreURI string `envconfig:"KAFKA_CONNECT_KEYSTORE_S3_URI" desc:"keystore (JKS or PKCS#12): s3://bucket/key (needs AWS_REGION) or file:///path"`
	// TruststoreURI (KAFKA_CONNECT_TRUSTSTORE_S3_URI) is the truststore's
	// object; empty writes no truststore.
	TruststoreURI string `envconfig:"KAFKA_CONNECT_TRUSTSTORE_S3_URI" desc:"truststore (JKS or PKCS#12): s3://bucket/key (needs AWS_REGION) or file:///path"`
	// BaseProperties (SIDECAR_BASE_PROPERTIES) is the absolute path of the
	// worker properties read when PropertiesURI is empty.
	BaseProperties string `envconfig:"SIDECAR_BASE_PROPERTIES" default:"/opt/kafka/config/connect-distributed.properties" desc:"base worker properties when no properties URI is set"`
	// ConfigDir (SIDECAR_CONFIG_DIR) is the directory the bootstrap writes
	// and the worker reads; preflight reads the worker properties there.
	ConfigDir string `envconfig:"SIDECAR_CONFIG_DIR" default:"/config" desc:"directory the bootstrap writes and the worker reads"`
	// KeystorePassword (SIDECAR_KEYSTORE_PASSWORD) opens the keystore to
	// check it; it is never written.
	KeystorePassword string `envconfig:"SIDECAR_KEYSTORE_PASSWORD" desc:"keystore password, read only to validate the store (secret)"`
	// TruststorePassword (SIDECAR_TRUSTSTORE_PASSWORD) opens the
	// truststore to check it; it is never written.
	TruststorePassword string `envconfig:"SIDECAR_TRUSTSTORE_PASSWORD" desc:"truststore password, read only to validate the store (secret)"`
	// AllowExpiredCerts (SIDECAR_ALLOW_EXPIRED_CERTS) turns an expired
	// certificate in a store from an error into a warning.
	AllowExpiredCerts bool `envconfig:"SIDECAR_ALLOW_EXPIRED_CERTS" default:"false" desc:"accept stores holding expired certificates"`
	// CertWarnWithin (SIDECAR_CERT_WARN_WITHIN) is how close to its expiry
	// a certificate is logged as a warning.
	CertWarnWithin time.Duration `envconfig:"SIDECAR_CERT_WARN_WITHIN" default:"720h" desc:"warn about certificates that expire within this time"`
}

// Validate reports the settings that are out of range, one error each.
func (b Config) Validate() []error {
	var errs []error
	if b.ConfigDir == "" {
		errs = append(errs, fmt.Errorf("SIDECAR_CONFIG_DIR: must not be empty"))
	}
	if !filepath.IsAbs(b.BaseProperties) {
		errs = append(errs, fmt.Errorf("SIDECAR_BASE_PROPERTIES=%q: must be an absolute path, such as /opt/kafka/config/connect-distributed.properties", b.BaseProperties))
	}
	for _, u := range []struct{ key, uri string }{
		{"KAFKA_CONNECT_PROPERTIES_S3_URI", b.PropertiesURI},
		{"KAFKA_CONNECT_KEYSTORE_S3_URI", b.KeystoreURI},
		{"KAFKA_CONNECT_TRUSTSTORE_S3_URI", b.TruststoreURI},
	} {
		if u.uri == "" {
			continue
		}
		if _, err := source.ParseObjectURI(u.uri); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.key, err))
		}
	}
	return errs
}
