package javaconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReferences(t *testing.T) {
	tests := []struct {
		in   string
		want []Reference
	}{
		{"plain", nil},
		{"${env:PW}", []Reference{{Provider: "env", Key: "PW"}}},
		{"${env::PW}", []Reference{{Provider: "env", Key: "PW"}}},
		{"${file:/s/x.properties:pw}", []Reference{{Provider: "file", Path: "/s/x.properties", Key: "pw"}}},
		{`u="${env:U}" p="${vault:a/b:c}";`, []Reference{{Provider: "env", Key: "U"}, {Provider: "vault", Path: "a/b", Key: "c"}}},
		// The path takes the first colon after the provider, the key the rest.
		{"${file:C:/x:k}", []Reference{{Provider: "file", Path: "C", Key: "/x:k"}}},
		{"${unclosed:x", nil},
		{"${nocolon}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := References(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("References(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestResolver(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "secrets.properties")
	if err := os.WriteFile(props, []byte("pw = from-file\nother=${not.expanded}\nemoji=\\uD83D\\uDE00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.properties")
	if err := os.WriteFile(broken, []byte("pw=ok\nbad=\\uD83D\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := Resolver{LookupEnv: func(k string) (string, bool) {
		v, ok := map[string]string{"USER": "alice", "PW": "p@ss"}[k]
		return v, ok
	}}
	tests := []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"${env:USER}", "alice", ""},
		{"${env::USER}", "alice", ""},
		{`u="${env:USER}" p="${env:PW}";`, `u="alice" p="p@ss";`, ""},
		{"${file:" + props + ":pw}", "from-file", ""},
		{"${file:" + props + ":other}", "${not.expanded}", ""},
		// A surrogate pair is one character, as Java reads it.
		{"${file:" + props + ":emoji}", "😀", ""},
		{"${file:" + props + ":missing}", "", "key missing not in file"},
		{"${file:" + broken + ":pw}", "", "parse properties: " + broken + ": line 2: unpaired UTF-16 surrogate"},
		{"${file:" + dir + "/absent:pw}", "", "${file:" + dir + "/absent:pw}: open "},
		{"${file:pw}", "", "a path is required"},
		{"${env:NOPE}", "", "environment variable NOPE is not set"},
		{"${env:p:NOPE}", "", "the env config provider does not support a path"},
		{"${vault:secret/x:pw}", "", `config provider "vault" is not supported here`},
		{"${unclosed", "${unclosed", ""},
	}
	for _, tc := range tests {
		got, err := r.Resolve("k", tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "k: ") {
				t.Errorf("Resolve(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

// What the pattern takes for a provider may be the text of a password
// around a stray "${"; the error then names the key only.
func TestResolverKeepsValueTextOutOfErrors(t *testing.T) {
	const secret = "MARKER-SECRET-7f3a9c"
	for _, value := range []string{
		`x password="pa${` + secret + `" user="u:v}";`,
		`a ${b "` + secret + `":c}`,
	} {
		_, err := Resolver{}.Resolve("sasl.jaas.config", value)
		if err == nil {
			t.Fatalf("Resolve(%q): no error", value)
		}
		if !strings.HasPrefix(err.Error(), "sasl.jaas.config: ") || !strings.Contains(err.Error(), "provider part is not a provider name") {
			t.Errorf("error %q: want the key and the reason", err)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "pa$") {
			t.Errorf("error %q repeats the value", err)
		}
	}
}

func FuzzResolve(f *testing.F) {
	f.Add("${env:A}", []byte("k=v"))
	f.Add("x${env::B}y${env:p:C}", []byte("k=v"))
	f.Add("${file:/nonexistent:k}${", []byte("k=v"))
	f.Add("${file:/f:k}-${file:/f:missing}", []byte("k=\\uD83D\\uDE00\n"))
	f.Add("${file:/f:k}", []byte("k=\\uD83D\n"))
	f.Add(`p="pa${x" y="u:v}"`, []byte(""))
	const secret = "SECRET~"
	f.Fuzz(func(t *testing.T, s string, file []byte) {
		r := Resolver{
			LookupEnv: func(k string) (string, bool) { return secret + k, k != "UNSET" },
			ReadFile: func(path string) ([]byte, error) {
				if path == "/nonexistent" {
					return nil, os.ErrNotExist
				}
				return file, nil
			},
		}
		out, err := r.Resolve("key", s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "key: ") {
				t.Fatalf("error does not name the key: %v", err)
			}
			if strings.Contains(err.Error(), secret) && !strings.Contains(s, secret) && !bytes.Contains(file, []byte(secret)) {
				t.Fatalf("error holds a resolved value: %v", err)
			}
			return
		}
		if !strings.Contains(s, "${") && out != s {
			t.Fatalf("text without references changed: %q -> %q", s, out)
		}
		refs := References(s)
		if len(refs) == 0 && out != s {
			t.Fatalf("text without complete references changed: %q -> %q", s, out)
		}
		for _, ref := range refs {
			if ref.Provider == "env" && !strings.Contains(out, secret+ref.Key) {
				t.Fatalf("%q: ${env:%s} not replaced: %q", s, ref.Key, out)
			}
		}
	})
}
