package bootstrap

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePropertiesFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Properties
	}{
		{"worker.properties", Properties{
			"bootstrap.servers":                "b-1.example:9092,b-2.example:9092",
			"group.id":                         "mm2-connect",
			"config.storage.topic":             "mm2-configs",
			"offset.storage.topic":             "mm2-offsets",
			"status.storage.topic":             "mm2-status",
			"key.converter":                    "org.apache.kafka.connect.converters.ByteArrayConverter",
			"value.converter":                  "org.apache.kafka.connect.converters.ByteArrayConverter",
			"config.providers":                 "env",
			"config.providers.env.class":       "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
			"security.protocol":                "SSL",
			"ssl.keystore.location":            "/old/keystore.jks",
			"ssl.keystore.password":            "${env:KEYSTORE_PASSWORD}",
			"producer.ssl.keystore.location":   "/old/keystore.jks",
			"consumer.ssl.truststore.location": "/old/truststore.jks",
			"consumer.ssl.truststore.password": "${env:TRUSTSTORE_PASSWORD}",
			"plugin.path":                      "/opt/kafka/plugins,/opt/connectors",
			"key with spaces":                  "value with trailing space ",
			"unicode.escaped":                  "café ☃",
			"unicode.raw":                      "café ☃",
			"emoji.escaped":                    "😀",
			"escaped:colon=equals":             "a\tb",
			"empty.value":                      "",
			"just.a.key":                       "",
		}},
		{"crlf.properties", Properties{
			"bootstrap.servers": "a:9092",
			"list":              "one,two",
			"group.id":          "g",
		}},
		// Not valid UTF-8, so read as ISO-8859-1 like Properties.load(InputStream).
		{"latin1.properties", Properties{"name": "café"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseProperties(tt.file, readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				for k, v := range tt.want {
					if got[k] != v {
						t.Errorf("%q = %q, want %q", k, got[k], v)
					}
				}
				for k := range got {
					if _, ok := tt.want[k]; !ok {
						t.Errorf("unexpected key %q", k)
					}
				}
			}
		})
	}
}

// Cases read as java.util.Properties reads them.
func TestParsePropertiesJavaRules(t *testing.T) {
	tests := []struct {
		name, in string
		want     Properties
	}{
		{"separators", "a=1\nb:2\nc 3\nd = 4\ne\t:\t5\n", Properties{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}},
		{"last duplicate wins", "a=1\na=2\n", Properties{"a": "2"}},
		{"unknown escape is the character", `a=\q\"\'`, Properties{"a": `q"'`}},
		{"escaped backslash at end is no continuation", "a=x\\\\\nb=y\n", Properties{"a": `x\`, "b": "y"}},
		{"continuation skips leading whitespace", "a=1,\\\n \t 2\n", Properties{"a": "1,2"}},
		{"continued line starting with # is value", "a=x\\\n#y\n", Properties{"a": "x#y"}},
		{"comment with trailing backslash does not continue", "# c \\\na=1\n", Properties{"a": "1"}},
		{"lone CR ends a line", "a=1\rb=2", Properties{"a": "1", "b": "2"}},
		{"BOM dropped", "\ufeffa=1\n", Properties{"a": "1"}},
		{"no ${} expansion", "a=${env:X}\nb=${a}\n", Properties{"a": "${env:X}", "b": "${a}"}},
		{"upper-case hex", `a=\u00E9\u00e9`, Properties{"a": "éé"}},
		{"escaped u is literal", `a=\\u00e9`, Properties{"a": `\u00e9`}},
		{"escaped surrogate text is literal", `a=\\uD83D`, Properties{"a": `\uD83D`}},
		{"whitespace-only lines", "  \n\t\na=1\n", Properties{"a": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties("test", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParsePropertiesMalformed(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"bad unicode escape", "a=ok\nb=\\uZZZZ\n", "line 2"},
		{"short unicode escape", "a=\\u12", "invalid unicode literal"},
		{"backslash at end of input", "a=b\\", "premature EOF"},
		{"empty key", "=value\n", "test.properties"},
		{"unpaired surrogate", "a=1\nb=\\uD83D\n", "line 2: unpaired UTF-16 surrogate"},
		{"continuation inside key", "bootstrap\\\n.servers=x\n", "line continuation inside a key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProperties("test.properties", []byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "test.properties: ") {
				t.Errorf("error %q: want it to name the file and contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
		})
	}
}

func TestRenderEscapesAsJavaStore(t *testing.T) {
	p := Properties{
		"key with spaces": " leading and trailing ",
		"sep=:#!":         "v=:#!",
		"unicode":         "café ☃ 😀",
		"controls":        "a\tb\nc\rd\fe\x00\x7f",
		"backslash":       `C:\path`,
		"ref":             "${env:PW}",
	}
	want := strings.Join([]string{
		"# header é",
		`backslash=C\:\\path`,
		`controls=a\tb\nc\rd\fe\u0000\u007F`,
		`key\ with\ spaces=\ leading and trailing `,
		`ref=${env\:PW}`,
		`sep\=\:\#\!=v\=\:\#\!`,
		`unicode=caf\u00E9 \u2603 \uD83D\uDE00`,
		"",
	}, "\n")
	want = strings.Replace(want, "header é", `header \u00E9`, 1)
	got := string(p.Render("header é"))
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	for _, r := range got {
		if r > 0x7e || (r < 0x20 && r != '\n') {
			t.Fatalf("rendered output holds %U; it must be printable ASCII", r)
		}
	}
	back, err := ParseProperties("rendered", []byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip: got %q, want %q", back, p)
	}
}

func TestRenderRoundTripFixtures(t *testing.T) {
	for _, f := range []string{"worker.properties", "crlf.properties", "latin1.properties"} {
		t.Run(f, func(t *testing.T) {
			p, err := ParseProperties(f, readFixture(t, f))
			if err != nil {
				t.Fatal(err)
			}
			out := p.Render("h")
			if string(out) != string(p.Render("h")) {
				t.Fatal("two renders differ")
			}
			back, err := ParseProperties("rendered", out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, p) {
				t.Errorf("round trip changed the properties:\n got %q\nwant %q", back, p)
			}
		})
	}
}

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

func FuzzRenderRoundTrip(f *testing.F) {
	for _, name := range []string{"worker.properties", "crlf.properties", "latin1.properties"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte("a=\\uD83D\\uDE00\\\\uD83D\nb\\ c=\\ x\\t\n"))
	f.Add([]byte("k=\\\\\\uD83D\\uDE00\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParseProperties("in", in)
		if err != nil {
			return
		}
		out := p.Render("header")
		back, err := ParseProperties("rendered", out)
		if err != nil {
			t.Fatalf("rendered output does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip changed the properties:\n got %q\nwant %q\nrendered:\n%s", back, p, out)
		}
		if again := back.Render("header"); string(again) != string(out) {
			t.Fatalf("second render differs:\n%s\n%s", out, again)
		}
	})
}
