package bootstrap

import (
	"reflect"
	"strings"
	"testing"
)

func TestPropertyName(t *testing.T) {
	tests := []struct {
		env  string
		want string
		ok   bool
	}{
		{"CONNECT_BOOTSTRAP_SERVERS", "bootstrap.servers", true},
		{"CONNECT_GROUP_ID", "group.id", true},
		{"CONNECT_REST_ADVERTISED_HOST_NAME", "rest.advertised.host.name", true},
		{"CONNECT_CONFIG_PROVIDERS_ENV_CLASS", "config.providers.env.class", true},
		{"CONNECT_PRODUCER_SSL_KEYSTORE_LOCATION", "producer.ssl.keystore.location", true},
		{"CONNECT_SASL_JAAS_CONFIG", "sasl.jaas.config", true},
		{"CONNECT_LISTENERS_HTTPS_SSL__CLIENT__AUTH", "listeners.https.ssl_client_auth", true},
		{"CONNECT_CONFIG_PROVIDERS_S3___PARAM", "config.providers.s3-param", true},
		{"CONNECT_A____B", "a-.b", true}, // "...." -> "-." as Confluent's images do
		{"CONNECT_A_____B", "a-_b", true},
		{"CONNECT_Mixed_Case", "mixed.case", true},
		{"CONNECT_", "", false},
		{"SIDECAR_CONNECT_URL", "", false},
		{"KAFKA_CONNECT_PROPERTIES_S3_URI", "", false},
		{"connect_group_id", "", false},
		{"CONNECTOR_X", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got, ok := propertyName(tt.env)
			if got != tt.want || ok != tt.ok {
				t.Errorf("propertyName(%q) = %q, %v; want %q, %v", tt.env, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"CONNECT_GROUP_ID=mm2",
		"CONNECT_SASL_JAAS_CONFIG=a=b c=d", // values may hold "="
		"SIDECAR_CONFIG_DIR=/config",
		"CONNECT_EMPTY=",
		"CONNECT_A__B=second",
		"CONNECT_A__b=first",
		"NOEQUALS",
	}
	want := []override{
		{Env: "CONNECT_A__B", Key: "a_b", Value: "second"},
		{Env: "CONNECT_EMPTY", Key: "empty", Value: ""},
		{Env: "CONNECT_GROUP_ID", Key: "group.id", Value: "mm2"},
		{Env: "CONNECT_SASL_JAAS_CONFIG", Key: "sasl.jaas.config", Value: "a=b c=d"},
	}
	got := overrides(environ)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	// The order of the environment does not matter.
	rev := make([]string, len(environ))
	for i, e := range environ {
		rev[len(environ)-1-i] = e
	}
	if got := overrides(rev); !reflect.DeepEqual(got, want) {
		t.Errorf("reversed environment: got %+v", got)
	}
}

func FuzzPropertyName(f *testing.F) {
	for _, s := range []string{"BOOTSTRAP_SERVERS", "A__B", "A___B", "A____B", "_", "", "a.b", "X_______Y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		name, ok := propertyName("CONNECT_" + rest)
		if ok != (rest != "") {
			t.Fatalf("ok=%v for %q", ok, rest)
		}
		if !ok {
			return
		}
		if name != strings.ToLower(name) {
			t.Errorf("%q: upper case left in %q", rest, name)
		}
		if strings.Contains(name, "..") {
			t.Errorf("%q: %q holds consecutive dots", rest, name)
		}
		if len(name) > len(strings.ToLower(rest)) {
			t.Errorf("%q: %q is longer than its variable", rest, name)
		}
		// A property of lower-case words and single dots comes back from
		// the variable an operator would write for it.
		if strings.ToLower(rest) == rest && !strings.ContainsAny(rest, "_-") && rest != "" &&
			!strings.Contains(rest, "..") && !strings.HasPrefix(rest, ".") && !strings.HasSuffix(rest, ".") {
			env := "CONNECT_" + strings.ToUpper(strings.ReplaceAll(rest, ".", "_"))
			if back, _ := propertyName(env); back != rest {
				t.Errorf("%q -> %q -> %q", rest, env, back)
			}
		}
	})
}
