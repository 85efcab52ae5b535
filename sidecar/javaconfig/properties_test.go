package javaconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
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

// FuzzParseProperties checks what holds for any input: errors name the
// input on one line, and line endings (LF, CRLF, CR) and a byte-order mark
// do not change what is read.
func FuzzParseProperties(f *testing.F) {
	for _, name := range []string{"worker.properties", "crlf.properties", "latin1.properties"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte("a=\\\n  b\nc:\\uD83D\\uDE00\n# c\\\n! d\ne f\\\\\n"))
	f.Add([]byte("k\\\n=v\n"))
	f.Add([]byte("a=\\uD83D\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParseProperties("in", in)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "in: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line naming the input", err)
			}
		}
		if bytes.ContainsRune(in, '\r') {
			return
		}
		variants := map[string][]byte{
			"CRLF": bytes.ReplaceAll(in, []byte("\n"), []byte("\r\n")),
			"CR":   bytes.ReplaceAll(in, []byte("\n"), []byte("\r")),
		}
		if utf8.Valid(in) && !bytes.HasPrefix(in, []byte("\ufeff")) {
			variants["BOM"] = append([]byte("\ufeff"), in...)
		}
		for name, v := range variants {
			q, verr := ParseProperties("in", v)
			if (err == nil) != (verr == nil) || (err != nil && err.Error() != verr.Error()) {
				t.Fatalf("%s: error %v, want %v", name, verr, err)
			}
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("%s: got %q, want %q", name, q, p)
			}
		}
	})
}
