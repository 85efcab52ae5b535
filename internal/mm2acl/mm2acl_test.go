package mm2acl

import (
	"os"
	"strings"
	"testing"
)

func TestParseReadme(t *testing.T) {
	b, err := os.ReadFile("../../connect-image/README.md")
	if err != nil {
		t.Fatal(err)
	}
	es, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		if seen[e.String()] {
			t.Errorf("%s listed twice", e)
		}
		seen[e.String()] = true
		if e.FailsWith == "" {
			t.Errorf("%s: says nothing about what fails without it", e)
		}
	}
	filled := Fill(es, "app.*", "app-billing")
	for _, e := range filled {
		if e.Name == "TOPICS" || e.Name == "GROUPS" {
			t.Errorf("placeholder left: %s", e)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"no marker":   {"| a | b |", "no <!-- mm2-acls:begin --> marker"},
		"no end":      {begin + "\n| x |", "no <!-- mm2-acls:end --> marker"},
		"cells":       {begin + "\n| source | Topic | x |\n" + end, "want 5 cells"},
		"cluster":     {begin + "\n| middle | Topic | x | Read | y |\n" + end, `cluster "middle"`},
		"operation":   {begin + "\n| source | Topic | x | Fly | y |\n" + end, `Topic operation "Fly"`},
		"resource":    {begin + "\n| source | Queue | x | Read | y |\n" + end, `resource "Queue"`},
		"empty table": {begin + "\n" + end, "no entries"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
