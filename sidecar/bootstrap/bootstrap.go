// Package bootstrap owns building a Kafka Connect worker's config directory:
// rendering the worker properties from a base file and CONNECT_* overrides,
// checking the keystore and truststore, and writing everything atomically
// and only when it changed. It does not fetch objects itself (a Fetcher
// does) and it never writes a password: the worker properties reference
// them through Connect's config providers.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
	"github.com/mm2-fargate/mm2-ecs/sidecar/retry"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

// PropertiesFile is the worker properties file the bootstrap writes.
const PropertiesFile = "connect-distributed.properties"

// RequiredKeys are the settings a distributed worker cannot start without.
var RequiredKeys = []string{
	"bootstrap.servers",
	"group.id",
	"config.storage.topic",
	"offset.storage.topic",
	"status.storage.topic",
	"key.converter",
	"value.converter",
}

// storePrefixes are the places a worker reads TLS stores from: its own
// connections, and the producers, consumers and admin clients it creates.
var storePrefixes = []string{"", "producer.", "consumer.", "admin."}

// Fetcher reads the object at a URI; *source.Reader is one.
type Fetcher interface {
	Get(ctx context.Context, uri string) ([]byte, source.Object, error)
}

// Options are the inputs of one bootstrap run.
type Options struct {
	// Config says where the files come from, where they go and how stores
	// are checked.
	Config Config
	// Environ is the process environment in os.Environ form; its CONNECT_*
	// variables become worker properties.
	Environ []string
	// Fetcher reads the s3:// and file:// URIs of Config; a
	// *source.Reader, whose deadline bounds the fetches made together.
	Fetcher Fetcher
	// MetadataURI is ECS_CONTAINER_METADATA_URI_V4; empty outside ECS.
	MetadataURI string
	// HTTPClient asks the task metadata endpoint; nil is a client with a
	// 5 s timeout.
	HTTPClient *http.Client
	// Now is the clock certificates are judged by; nil is time.Now.
	Now func() time.Time
	// Logger hears what was written and every certificate close to expiry;
	// nil discards.
	Logger *slog.Logger
}

// Store is a checked keystore or truststore and the file it is written to.
type Store struct {
	// Store is the opened store: its role, type and certificates.
	javaconfig.Store
	// Path is the file in the config directory that holds the store.
	Path string
}

// Result says what a run wrote.
type Result struct {
	// Dir is the config directory written (Config.ConfigDir).
	Dir string
	// Files are the files written, in the order written.
	Files []Written
	// Stores are the keystore and truststore written, when configured.
	Stores []Store
	// Removed are stale stores of the other format (a keystore.p12 left
	// beside a new keystore.jks), deleted so the worker cannot read them.
	Removed []string
}

// Run builds the config directory. Everything is fetched and checked before
// anything is written; on error the directory is as it was, and the error
// joins one error per problem (errors.Join), each naming the URI, file or
// key at fault.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := o.Config
	var problems []error
	fail := func(err error) { problems = append(problems, err) }

	propsURI, what := cfg.PropertiesURI, "worker properties"
	if propsURI == "" {
		propsURI = (&url.URL{Scheme: "file", Path: cfg.BaseProperties}).String()
		what = "worker properties from SIDECAR_BASE_PROPERTIES (KAFKA_CONNECT_PROPERTIES_S3_URI is not set)"
	}
	objs := fetchAll(ctx, o.Fetcher, propsURI, cfg.KeystoreURI, cfg.TruststoreURI)
	props := javaconfig.Properties{}
	baseOK := false
	if b, err := objs[0].data, objs[0].err; err != nil {
		fail(fmt.Errorf("%s: %w", what, err))
	} else if p, err := javaconfig.ParseProperties(propsURI, b); err != nil {
		fail(fmt.Errorf("%s: %w", what, err))
	} else {
		props, baseOK = p, true
		o.Logger.Info("read worker properties", "uri", propsURI, "keys", len(p))
	}

	for _, ov := range overrides(o.Environ) {
		if !utf8.ValidString(ov.Value) {
			fail(fmt.Errorf("%s: value is not valid UTF-8", ov.Env))
			continue
		}
		// Values are not logged: CONNECT_* may carry a JAAS config.
		o.Logger.Info("worker property from environment", "env", ov.Env, "key", ov.Key)
		props[ov.Key] = ov.Value
	}

	if _, set := props["rest.advertised.host.name"]; !set && o.MetadataURI != "" {
		if ip, err := taskIP(ctx, o.HTTPClient, o.MetadataURI); err != nil {
			fail(fmt.Errorf("rest.advertised.host.name: %w (set CONNECT_REST_ADVERTISED_HOST_NAME to skip the lookup)", err))
		} else {
			props["rest.advertised.host.name"] = ip
			o.Logger.Info("rest.advertised.host.name from task metadata", "value", ip)
		}
	}

	var files []File
	var stores []Store
	for _, in := range []struct {
		role, uri, password, env string
		fetched
	}{
		{javaconfig.RoleKeystore, cfg.KeystoreURI, cfg.KeystorePassword, "SIDECAR_KEYSTORE_PASSWORD", objs[1]},
		{javaconfig.RoleTruststore, cfg.TruststoreURI, cfg.TruststorePassword, "SIDECAR_TRUSTSTORE_PASSWORD", objs[2]},
	} {
		if in.uri == "" {
			continue
		}
		if in.err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", in.role, in.err))
			continue
		}
		s, data, errs := loadStore(o, in.role, in.uri, in.data, in.password, in.env)
		if len(errs) > 0 {
			problems = append(problems, errs...)
			continue
		}
		name := storeFile(in.role, s.Type)
		s.Path = filepath.Join(cfg.ConfigDir, name)
		pointStores(props, in.role, s, o.Logger)
		files = append(files, File{Name: name, Data: data})
		stores = append(stores, s)
	}

	if baseOK {
		problems = append(problems, validate(propsURI, props)...)
	}
	if len(problems) > 0 {
		return Result{}, errors.Join(problems...)
	}

	header := []string{"Written by connect-sidecar bootstrap from " + propsURI + " and CONNECT_* variables; changes here are overwritten."}
	files = append([]File{{Name: PropertiesFile, Data: props.Render(header...)}}, files...)
	written, err := writeFiles(cfg.ConfigDir, files)
	if err != nil {
		return Result{}, err
	}
	for _, w := range written {
		o.Logger.Info("config file", "path", w.Path, "bytes", w.Bytes, "changed", w.Changed)
	}
	res := Result{Dir: cfg.ConfigDir, Files: written, Stores: stores}
	// A store that changed format leaves its old file behind; remove it so
	// that Inspect and operators see only what the worker uses.
	for _, s := range stores {
		other := javaconfig.PKCS12
		if s.Type == javaconfig.PKCS12 {
			other = javaconfig.JKS
		}
		stale := filepath.Join(cfg.ConfigDir, storeFile(s.Role, other))
		if err := os.Remove(stale); err == nil {
			res.Removed = append(res.Removed, stale)
			o.Logger.Info("removed store of the other format", "path", stale)
		} else if !errors.Is(err, fs.ErrNotExist) {
			o.Logger.Warn("could not remove store of the other format", "path", stale, "error", err.Error())
		}
	}
	return res, nil
}

// fetched is one object fetchAll read, or why it could not.
type fetched struct {
	data []byte
	err  error
}

// fetchAll fetches every non-empty URI at once, so that the fetcher's
// deadline (SIDECAR_FETCH_DEADLINE) bounds them all together: one after
// another, a degraded S3 would make the task wait the deadline once per
// object before failing.
func fetchAll(ctx context.Context, f Fetcher, uris ...string) []fetched {
	out := make([]fetched, len(uris))
	var wg sync.WaitGroup
	for i, uri := range uris {
		if uri == "" {
			continue
		}
		wg.Go(func() {
			b, _, err := f.Get(ctx, uri)
			out[i] = fetched{b, err}
		})
	}
	wg.Wait()
	return out
}

// storeFile is the name a store is written under: role and format, as in
// keystore.jks or truststore.p12.
func storeFile(role string, t javaconfig.StoreType) string {
	if t == javaconfig.JKS {
		return role + ".jks"
	}
	return role + ".p12"
}

func loadStore(o Options, role, uri string, data []byte, password, env string) (Store, []byte, []error) {
	js, err := javaconfig.OpenStore(role, data, password)
	if err != nil {
		if errors.Is(err, javaconfig.ErrWrongPassword) {
			hint := env
			if password == "" {
				hint = env + " is not set"
			}
			return Store{}, nil, []error{fmt.Errorf("%s %s: %w (%s)", role, uri, err, hint)}
		}
		return Store{}, nil, []error{fmt.Errorf("%s %s: %w", role, uri, err)}
	}
	s := Store{Store: js}
	for _, alias := range s.KeyPasswordDiffers {
		o.Logger.Warn("private key does not decrypt with the store password; the worker needs ssl.key.password", "store", role, "alias", alias)
	}
	var errs []error
	now := o.Now()
	for _, c := range s.Certificates {
		attrs := []any{"store", role, "type", string(s.Type), "alias", c.Alias, "subject", c.Subject, "issuer", c.Issuer, "not_after", c.NotAfter.UTC().Format(time.RFC3339)}
		switch {
		case now.After(c.NotAfter) && !o.Config.AllowExpiredCerts:
			o.Logger.Error("certificate expired", attrs...)
			errs = append(errs, fmt.Errorf("%s %s: certificate %q (alias %q) expired at %s (SIDECAR_ALLOW_EXPIRED_CERTS=true accepts it)", role, uri, c.Subject, c.Alias, c.NotAfter.UTC().Format(time.RFC3339)))
		case now.After(c.NotAfter):
			o.Logger.Warn("certificate expired, accepted by SIDECAR_ALLOW_EXPIRED_CERTS", attrs...)
		case now.Before(c.NotBefore):
			o.Logger.Warn("certificate not valid yet", append(attrs, "not_before", c.NotBefore.UTC().Format(time.RFC3339))...)
		case c.NotAfter.Sub(now) < o.Config.CertWarnWithin:
			o.Logger.Warn("certificate expires soon", append(attrs, "expires_in", c.NotAfter.Sub(now).Round(time.Minute).String())...)
		default:
			o.Logger.Info("certificate", attrs...)
		}
	}
	if len(errs) > 0 {
		return Store{}, nil, errs
	}
	return s, data, nil
}

// pointStores sets every store location the properties use, at each
// prefix, to the written file, with the matching type. When the properties
// name no location at all, the worker-level one is set.
func pointStores(props javaconfig.Properties, role string, s Store, log *slog.Logger) {
	loc, typ := "ssl."+role+".location", "ssl."+role+".type"
	var used []string
	for _, p := range storePrefixes {
		if _, ok := props[p+loc]; ok {
			used = append(used, p)
		}
	}
	if len(used) == 0 {
		used = []string{""}
	}
	for _, p := range used {
		props[p+loc] = s.Path
		if old, ok := props[p+typ]; ok && !strings.EqualFold(old, string(s.Type)) {
			log.Info("store type set from the store's contents", "key", p+typ, "was", old, "now", string(s.Type))
		}
		props[p+typ] = string(s.Type)
	}
}

// validate checks the rendered properties: the keys a distributed worker
// needs, and that every ${provider:...} reference names a provider that
// config.providers declares; Connect would otherwise pass the text through
// unresolved and a password would silently be the literal "${env:...}".
func validate(name string, props javaconfig.Properties) []error {
	var errs []error
	var missing []string
	for _, k := range RequiredKeys {
		if strings.TrimSpace(props[k]) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("worker properties %s: missing required keys: %s", name, strings.Join(missing, ", ")))
	}
	declared := map[string]bool{}
	for _, p := range strings.Split(props["config.providers"], ",") {
		if p = strings.TrimSpace(p); p != "" {
			declared[p] = true
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, ref := range javaconfig.References(props[k]) {
			switch {
			case declared[ref.Provider]:
			case ref.ProviderIsName():
				errs = append(errs, fmt.Errorf("worker properties %s: key %s references config provider %q, which config.providers does not declare", name, k, ref.Provider))
			default:
				// What reads as the provider here is text of the value
				// (a "${" inside a password, say): name only the key.
				errs = append(errs, fmt.Errorf("worker properties %s: key %s holds a ${...:...} reference whose provider part is not a declared provider name; Connect would pass it through unresolved", name, k))
			}
		}
	}
	return errs
}

// taskIP asks the task metadata endpoint for the task's private IPv4. The
// endpoint is local to the task, so a short retry covers an agent that is
// still starting.
func taskIP(ctx context.Context, client *http.Client, uri string) (string, error) {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			if err := retry.Wait(ctx, time.Duration(attempt)*500*time.Millisecond); err != nil {
				return "", err
			}
		}
		var t ecsmeta.Task
		if t, err = ecsmeta.Fetch(ctx, client, uri); err == nil {
			if t.PrivateIPv4 == "" {
				return "", fmt.Errorf("task metadata %s: no awsvpc IPv4 address", uri)
			}
			return t.PrivateIPv4, nil
		}
	}
	return "", err
}
