package kafka

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"software.sslmate.com/src/go-pkcs12"
)

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as JKS, PKCS#12 and PEM stores.
type pki struct {
	ca                   *x509.Certificate
	server               tls.Certificate
	dir                  string
	trustJKS, trustP12   string
	keyJKS, keyP12       string
	caPEM                string
	clientPEM, clientKey string
}

const storePW = "changeit"

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(caDER)
	leaf := func(cn string, serial int64, usage x509.ExtKeyUsage) (*ecdsa.PrivateKey, *x509.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return key, c
	}
	sKey, sCert := leaf("broker", 2, x509.ExtKeyUsageServerAuth)
	p.server = tls.Certificate{Certificate: [][]byte{sCert.Raw}, PrivateKey: sKey}
	cKey, cCert := leaf("sidecar", 3, x509.ExtKeyUsageClientAuth)

	write := func(name string, b []byte) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// JKS trust store and key store.
	ks := keystore.New()
	if err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X509", Content: p.ca.Raw}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(storePW)); err != nil {
		t.Fatal(err)
	}
	p.trustJKS = write("truststore.jks", buf.Bytes())
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(cKey)
	ks = keystore.New()
	if err := ks.SetPrivateKeyEntry("client", keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: pkcs8,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: cCert.Raw}, {Type: "X509", Content: p.ca.Raw}}}, []byte(storePW)); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := ks.Store(&buf, []byte(storePW)); err != nil {
		t.Fatal(err)
	}
	p.keyJKS = write("keystore.jks", buf.Bytes())
	// PKCS#12 stores.
	raw, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{p.ca}, storePW)
	if err != nil {
		t.Fatal(err)
	}
	p.trustP12 = write("truststore.p12", raw)
	if raw, err = pkcs12.Modern.Encode(cKey, cCert, []*x509.Certificate{p.ca}, storePW); err != nil {
		t.Fatal(err)
	}
	p.keyP12 = write("keystore.p12", raw)
	// PEM.
	p.caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.ca.Raw}))
	p.clientPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cCert.Raw}))
	p.clientKey = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	return p
}

func (p *pki) serverTLS(clientAuth bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if clientAuth {
		pool := x509.NewCertPool()
		pool.AddCert(p.ca)
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c
}

// dial builds the source cluster from an MSC config and asks it for
// metadata, the sidecar's first request of a measurement.
func dial(t *testing.T, conn map[string]string, env map[string]string) error {
	t.Helper()
	r := javaconfig.Resolver{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	c, err := ClusterFromConnector(conn, Source, r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts, err := c.ClientOpts(ctx)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.RetryTimeout(2*time.Second), kgo.DialTimeout(2*time.Second))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	return c.Wrap("metadata", err)
}

func newKfake(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func TestAuthAgainstKfake(t *testing.T) {
	p := newPKI(t)
	tlsAddr := newKfake(t, kfake.TLS(p.serverTLS(false)))
	mtlsAddr := newKfake(t, kfake.TLS(p.serverTLS(true)))
	scramAddr := newKfake(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "mm2", "s3cret-pw"))
	scram512TLS := newKfake(t, kfake.TLS(p.serverTLS(false)), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "mm2", "s3cret-pw"))
	plainAddr := newKfake(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "mm2", "s3cret-pw"))
	scramJAAS := func(pw string) string {
		return `org.apache.kafka.common.security.scram.ScramLoginModule required username="mm2" password="` + pw + `";`
	}
	env := map[string]string{"SRC_PW": "s3cret-pw", "TRUST_PW": storePW}

	tests := []struct {
		name string
		conf map[string]string
		err  string // empty: must connect
	}{
		{"tls jks truststore", map[string]string{"source.cluster.bootstrap.servers": tlsAddr, "source.cluster.security.protocol": "SSL",
			"source.cluster.ssl.truststore.location": p.trustJKS, "source.cluster.ssl.truststore.password": "${env:TRUST_PW}"}, ""},
		{"tls pkcs12 truststore, no host check", map[string]string{"source.cluster.bootstrap.servers": tlsAddr, "source.cluster.security.protocol": "SSL",
			"source.cluster.ssl.truststore.type": "PKCS12", "source.cluster.ssl.truststore.location": p.trustP12, "source.cluster.ssl.truststore.password": storePW,
			"source.cluster.ssl.endpoint.identification.algorithm": ""}, ""},
		{"mtls pkcs12 key store", map[string]string{"source.cluster.bootstrap.servers": mtlsAddr, "source.cluster.security.protocol": "SSL",
			"source.cluster.ssl.truststore.location": p.trustJKS, "source.cluster.ssl.truststore.password": storePW,
			"source.cluster.ssl.keystore.type": "PKCS12", "source.cluster.ssl.keystore.location": p.keyP12, "source.cluster.ssl.keystore.password": storePW}, ""},
		{"mtls jks key store, pem trust", map[string]string{"source.cluster.bootstrap.servers": mtlsAddr, "source.cluster.security.protocol": "SSL",
			"source.cluster.ssl.truststore.type": "PEM", "source.cluster.ssl.truststore.certificates": p.caPEM,
			"source.cluster.ssl.keystore.location": p.keyJKS, "source.cluster.ssl.keystore.password": storePW, "source.cluster.ssl.key.password": storePW}, ""},
		{"mtls pem key", map[string]string{"source.cluster.bootstrap.servers": mtlsAddr, "source.cluster.security.protocol": "SSL",
			"source.cluster.ssl.truststore.certificates": p.caPEM, "source.cluster.ssl.truststore.type": "PEM",
			"source.cluster.ssl.keystore.type": "PEM", "source.cluster.ssl.keystore.certificate.chain": p.clientPEM, "source.cluster.ssl.keystore.key": p.clientKey}, ""},
		{"mtls without key store is refused", map[string]string{"source.cluster.bootstrap.servers": mtlsAddr, "source.cluster.security.protocol": "SSL",
			"source.cluster.ssl.truststore.location": p.trustJKS, "source.cluster.ssl.truststore.password": storePW}, `source cluster "source"`},
		{"tls without trust store", map[string]string{"source.cluster.bootstrap.servers": tlsAddr, "source.cluster.security.protocol": "SSL"}, `source cluster "source": metadata`},
		{"wrong trust store password", map[string]string{"source.cluster.bootstrap.servers": tlsAddr, "source.cluster.security.protocol": "SSL",
			"source.cluster.ssl.truststore.location": p.trustJKS, "source.cluster.ssl.truststore.password": "wrong-pw"}, "source.cluster.ssl.truststore.location (JKS)"},
		{"scram-sha-256 with env password", map[string]string{"source.cluster.bootstrap.servers": scramAddr, "source.cluster.security.protocol": "SASL_PLAINTEXT",
			"source.cluster.sasl.mechanism": "SCRAM-SHA-256", "source.cluster.sasl.jaas.config": scramJAAS("${env:SRC_PW}")}, ""},
		{"scram-sha-512 over tls", map[string]string{"source.cluster.bootstrap.servers": scram512TLS, "source.cluster.security.protocol": "SASL_SSL",
			"source.cluster.ssl.truststore.location": p.trustJKS, "source.cluster.ssl.truststore.password": storePW,
			"source.cluster.sasl.mechanism": "SCRAM-SHA-512", "source.cluster.sasl.jaas.config": scramJAAS("s3cret-pw")}, ""},
		{"plain", map[string]string{"source.cluster.bootstrap.servers": plainAddr, "source.cluster.security.protocol": "SASL_PLAINTEXT",
			"source.cluster.sasl.mechanism": "PLAIN", "source.cluster.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="mm2" password="s3cret-pw";`}, ""},
		{"scram refused", map[string]string{"source.cluster.alias": "onprem", "source.cluster.bootstrap.servers": scramAddr, "source.cluster.security.protocol": "SASL_PLAINTEXT",
			"source.cluster.sasl.mechanism": "SCRAM-SHA-256", "source.cluster.sasl.jaas.config": scramJAAS("wrong-pw")}, `source cluster "onprem": metadata`},
		{"admin override wins", map[string]string{"source.cluster.bootstrap.servers": "127.0.0.1:1", "source.admin.bootstrap.servers": scramAddr,
			"source.cluster.security.protocol": "SASL_PLAINTEXT", "source.cluster.sasl.mechanism": "SCRAM-SHA-256", "admin.sasl.jaas.config": scramJAAS("s3cret-pw")}, ""},
		{"cluster down", map[string]string{"source.cluster.alias": "gone", "source.cluster.bootstrap.servers": "127.0.0.1:1"}, `source cluster "gone": metadata`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := dial(t, tc.conf, env)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.err)
			}
			for _, secret := range []string{"s3cret-pw", "wrong-pw", storePW} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}

// saslCapture answers SASL on a kfake broker that has no SASL of its own
// and records what the client sent.
type saslCapture struct {
	mu        sync.Mutex
	mechanism string
	auth      []byte
}

func captureSASL(t *testing.T, opts ...kfake.Opt) (string, *saslCapture) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	sc := &saslCapture{}
	c.ControlKey(kmsg.SASLHandshake.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.SASLHandshakeRequest)
		sc.mu.Lock()
		sc.mechanism = req.Mechanism
		sc.mu.Unlock()
		resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{req.Mechanism}
		return resp, nil, true
	})
	c.ControlKey(kmsg.SASLAuthenticate.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.SASLAuthenticateRequest)
		sc.mu.Lock()
		sc.auth = append([]byte(nil), req.SASLAuthBytes...)
		sc.mu.Unlock()
		resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.SASLAuthBytes = []byte(`{"version":"2020_10_22","request-id":"test"}`)
		if req.Version >= 1 {
			resp.SessionLifetimeMillis = int64(time.Hour / time.Millisecond)
		}
		if strings.HasPrefix(string(req.SASLAuthBytes), "n,,") {
			resp.SASLAuthBytes = nil // OAUTHBEARER success carries no data
		}
		return resp, nil, true
	})
	return c.ListenAddrs()[0], sc
}

func staticAWS(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIDECARTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key-never-sent")
	t.Setenv("AWS_SESSION_TOKEN", "test-session-token")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestMSKIAMExchange(t *testing.T) {
	staticAWS(t)
	p := newPKI(t)
	addr, sc := captureSASL(t, kfake.TLS(p.serverTLS(false)))
	err := dial(t, map[string]string{
		"source.cluster.bootstrap.servers":                  addr,
		"source.cluster.security.protocol":                  "SASL_SSL",
		"source.cluster.ssl.truststore.location":            p.trustJKS,
		"source.cluster.ssl.truststore.password":            storePW,
		"source.cluster.sasl.mechanism":                     "AWS_MSK_IAM",
		"source.cluster.sasl.jaas.config":                   "software.amazon.msk.auth.iam.IAMLoginModule required;",
		"source.cluster.sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.mechanism != "AWS_MSK_IAM" {
		t.Fatalf("mechanism = %q", sc.mechanism)
	}
	var payload map[string]string
	if err := json.Unmarshal(sc.auth, &payload); err != nil {
		t.Fatalf("payload %q: %v", sc.auth, err)
	}
	date := time.Now().UTC().Format("20060102")
	want := map[string]string{
		"version":              "2020_10_22",
		"host":                 "127.0.0.1",
		"action":               "kafka-cluster:Connect",
		"x-amz-algorithm":      "AWS4-HMAC-SHA256",
		"x-amz-credential":     "AKIDSIDECARTEST/" + date + "/eu-west-1/kafka-cluster/aws4_request",
		"x-amz-security-token": "test-session-token",
		"x-amz-signedheaders":  "host",
	}
	for k, v := range want {
		if payload[k] != v {
			t.Errorf("payload[%s] = %q, want %q", k, payload[k], v)
		}
	}
	if len(payload["x-amz-signature"]) != 64 {
		t.Errorf("signature = %q, want 64 hex digits", payload["x-amz-signature"])
	}
	if bytes.Contains(sc.auth, []byte("test-secret-key-never-sent")) {
		t.Error("the secret key went over the wire")
	}
}

func TestMSKIAMOAuthBearerExchange(t *testing.T) {
	staticAWS(t)
	p := newPKI(t)
	addr, sc := captureSASL(t, kfake.TLS(p.serverTLS(false)))
	err := dial(t, map[string]string{
		"source.cluster.bootstrap.servers":                 addr,
		"source.cluster.security.protocol":                 "SASL_SSL",
		"source.cluster.ssl.truststore.location":           p.trustJKS,
		"source.cluster.ssl.truststore.password":           storePW,
		"source.cluster.sasl.mechanism":                    "OAUTHBEARER",
		"source.cluster.sasl.jaas.config":                  "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
		"source.cluster.sasl.login.callback.handler.class": mskIAMOAuthHandlerClass,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.mechanism != "OAUTHBEARER" {
		t.Fatalf("mechanism = %q", sc.mechanism)
	}
	msg := string(sc.auth)
	_, tok, ok := strings.Cut(msg, "auth=Bearer ")
	if !ok || !strings.HasPrefix(msg, "n,,\x01") {
		t.Fatalf("client first message %q", msg)
	}
	tok, _, _ = strings.Cut(tok, "\x01")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("token is not base64url: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "kafka.eu-west-1.amazonaws.com" || q.Get("Action") != "kafka-cluster:Connect" ||
		!strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIDSIDECARTEST/") || q.Get("X-Amz-Security-Token") != "test-session-token" {
		t.Errorf("presigned url = %s", raw)
	}
	if strings.Contains(string(raw), "test-secret-key-never-sent") {
		t.Error("the secret key went over the wire")
	}
}
