package kafka

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseJAAS(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []JAASEntry
		err  string
	}{
		{"scram quoted", `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cr;et=";`,
			[]JAASEntry{{"org.apache.kafka.common.security.scram.ScramLoginModule", "required", map[string]string{"username": "alice", "password": "s3cr;et="}}}, ""},
		{"plain unquoted words and flag case", "org.apache.kafka.common.security.plain.PlainLoginModule REQUIRED username=bob password=pw_1.x ;",
			[]JAASEntry{{"org.apache.kafka.common.security.plain.PlainLoginModule", "required", map[string]string{"username": "bob", "password": "pw_1.x"}}}, ""},
		{"doubled single quote is two tokens", `M optional a='it''s' b="q\"uote\\back\tx\101";`,
			nil, "option name expected"},
		{"escapes", `M optional b="q\"uote\\back\tx\101" c='single';`,
			[]JAASEntry{{"M", "optional", map[string]string{"b": "q\"uote\\back\tx" + "A", "c": "single"}}}, ""},
		{"comments and newlines", "// leading\nM sufficient /* inline */ user=\"u\"\n  pass=\"p\"; // tail",
			[]JAASEntry{{"M", "sufficient", map[string]string{"user": "u", "pass": "p"}}}, ""},
		{"two modules", `A required; B requisite k="v";`,
			[]JAASEntry{{"A", "required", map[string]string{}}, {"B", "requisite", map[string]string{"k": "v"}}}, ""},
		{"iam module", "software.amazon.msk.auth.iam.IAMLoginModule required;",
			[]JAASEntry{{"software.amazon.msk.auth.iam.IAMLoginModule", "required", map[string]string{}}}, ""},
		{"empty", "  ", nil, "login module not specified"},
		{"no flag", "M", nil, "control flag of M not specified"},
		{"bad flag", "M always;", nil, `invalid control flag "always"`},
		{"no semicolon", `M required user="u"`, nil, "not terminated by a semicolon"},
		{"missing value", `M required user=;`, nil, `value not specified for key "user"`},
		{"number value", `M required port=9092;`, nil, `value not specified for key "port"`},
		{"unterminated quote", `M required password="abc;`, nil, "unterminated quoted value"},
		{"quote across line", "M required password=\"ab\nc\";", nil, "ends at a line break"},
		{"unterminated comment", "M required /* x", nil, "unterminated comment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseJAAS(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseJAASErrorsHideValues(t *testing.T) {
	for _, in := range []string{
		`M required password="hunter2`,
		`M required password="hunter2" user`,
		`M required password="hunter2" 12;`,
		`M required password="hunter2"`,
		`M required username=alice password=correct hunter2;`, // unquoted value with a space
	} {
		_, err := ParseJAAS(in)
		if err == nil {
			t.Fatalf("%q parsed", in)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func FuzzParseJAAS(f *testing.F) {
	for _, s := range []string{
		`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="x";`,
		`M optional b="q\"u\\o\101" c='s'; // c`,
		"/* */ A required; B requisite k=v;",
		`M required password="abc`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := ParseJAAS(s)
		if err != nil {
			return
		}
		if len(entries) == 0 {
			t.Fatal("no entries and no error")
		}
		for _, e := range entries {
			if e.LoginModule == "" || e.Options == nil {
				t.Fatalf("incomplete entry %+v", e)
			}
			switch e.Flag {
			case "required", "requisite", "sufficient", "optional":
			default:
				t.Fatalf("flag %q", e.Flag)
			}
		}
	})
}
