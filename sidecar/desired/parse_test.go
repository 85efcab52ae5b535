package desired

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "parse", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	tests := []struct {
		file    string
		name    string
		state   string
		want    map[string]string // subset of the config
		wantErr error
		errHas  string
	}{
		{file: "wrapper-msc.json", name: "mm2-msc", state: StateRunning, want: map[string]string{
			"name": "mm2-msc", "tasks.max": "4", "replication.factor": "3", "sync.topic.acls.enabled": "false",
			"emit.heartbeats.interval.seconds": "1.50", "source.cluster.bootstrap.servers": "${env:SOURCE_BOOTSTRAP_SERVERS}",
		}},
		{file: "flat-cpc.json", name: "mm2-cpc", state: StatePaused, want: map[string]string{
			"name": "mm2-cpc", "sync.group.offsets.enabled": "true", "emit.checkpoints.interval.seconds": "5",
		}},
		{file: "wrapper-initial-state.json", name: "mm2-hbc", state: StateStopped},
		{file: "wrapper-name-from-config.json", name: "mm2-hbc", want: map[string]string{"connector.class": "MirrorHeartbeat"}},
		{file: "invalid-json.json", wantErr: ErrSyntax},
		{file: "array-top.json", wantErr: ErrSyntax},
		{file: "flat-no-name.json", wantErr: ErrNoName},
		{file: "wrapper-no-name.json", wantErr: ErrNoName},
		{file: "name-mismatch.json", wantErr: ErrNameMismatch, errHas: `"name" is "mm2-msc" but config's "name" is "mm2-msc-old"`},
		{file: "array-value.json", wantErr: ErrBadValue, errHas: `key "topics" is a JSON array`},
		{file: "null-value.json", wantErr: ErrBadValue, errHas: `key "topics" is null`},
		{file: "bad-state.json", wantErr: ErrBadState, errHas: `"deleted"`},
		{file: "state-disagree.json", wantErr: ErrBadState},
		{file: "unknown-key.json", wantErr: ErrBadValue, errHas: `"confg"`},
		{file: "name-spaces.json", wantErr: ErrBadValue},
		// Names Connect's REST paths cannot address: a dot segment is
		// normalised away (PUT /connectors/../config), a slash splits one.
		{file: "name-dot.json", wantErr: ErrBadName, errHas: `name "." cannot be addressed`},
		{file: "name-dotdot.json", wantErr: ErrBadName, errHas: `name ".." cannot be addressed`},
		{file: "name-slash.json", wantErr: ErrBadName, errHas: `name "mm2/msc" cannot be addressed`},
		{file: "name-control.json", wantErr: ErrBadName, errHas: `name "mm2-\amsc" has a control character`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			uri := "file:///connectors/" + tt.file
			c, err := Parse(uri, readFixture(t, tt.file))
			if tt.wantErr != nil {
				var fe *FileError
				if !errors.As(err, &fe) || !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want a *FileError wrapping %v", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), uri) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %q does not start with the file or lacks %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != tt.name || c.State != tt.state || c.File != uri {
				t.Fatalf("got name %q state %q file %q", c.Name, c.State, c.File)
			}
			if c.Config["name"] != tt.name {
				t.Fatalf("config name %q", c.Config["name"])
			}
			if _, ok := c.Config[StateKey]; ok {
				t.Fatalf("%s leaked into the config", StateKey)
			}
			for k, v := range tt.want {
				if c.Config[k] != v {
					t.Errorf("%s = %q, want %q", k, c.Config[k], v)
				}
			}
		})
	}
}

func TestDigestFollowsMeaning(t *testing.T) {
	a, err := Parse("a", []byte(`{"name":"x","config":{"connector.class":"C","tasks.max":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	same, _ := Parse("b", []byte("{\"connector.class\": \"C\",\n \"tasks.max\": \"1\", \"name\": \"x\"}"))
	other, _ := Parse("a", []byte(`{"name":"x","config":{"connector.class":"C","tasks.max":2}}`))
	paused, _ := Parse("a", []byte(`{"name":"x","config":{"connector.class":"C","tasks.max":1},"state":"paused"}`))
	if a.Digest != same.Digest {
		t.Error("the same connector in two forms has two digests")
	}
	if a.Digest == other.Digest || a.Digest == paused.Digest {
		t.Error("a changed config or state kept its digest")
	}
}

func FuzzParse(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join("testdata", "parse"))
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join("testdata", "parse", e.Name()))
		f.Add(b)
	}
	f.Add([]byte(`{"name":"a","config":{"name":"a","k":1e3,"b":true}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.Name == "" || c.Config["name"] != c.Name {
			t.Fatalf("accepted without a consistent name: %+v", c)
		}
		if c.Name == "." || c.Name == ".." || strings.ContainsAny(c.Name, "/") || strings.ContainsFunc(c.Name, unicode.IsControl) {
			t.Fatalf("accepted name %q, which Connect's REST paths cannot address", c.Name)
		}
		switch c.State {
		case "", StateRunning, StatePaused, StateStopped:
		default:
			t.Fatalf("state %q", c.State)
		}
		// Written back in the wrapper form, it must read the same.
		body := map[string]any{"name": c.Name, "config": c.Config}
		if c.State != "" {
			body["state"] = strings.ToLower(c.State)
		}
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse("f.json", b)
		if err != nil || again.Digest != c.Digest {
			t.Fatalf("round trip: %v, digest %s vs %s", err, again.Digest, c.Digest)
		}
	})
}
