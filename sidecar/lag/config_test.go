package lag

import (
	"os"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
)

func TestConfigFromEnvironment(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Config
		errs []string
	}{
		{"defaults", nil, Config{Interval: 30 * time.Second}, nil},
		{"set", map[string]string{"SIDECAR_LAG_INTERVAL": "1m", "SIDECAR_SOURCE_CONNECTOR": "msc", "SIDECAR_CHECKPOINT_CONNECTOR": "cpc"},
			Config{Interval: time.Minute, SourceConnector: "msc", CheckpointConnector: "cpc"}, nil},
		{"off", map[string]string{"SIDECAR_LAG_INTERVAL": "0s"}, Config{}, nil},
		{"negative", map[string]string{"SIDECAR_LAG_INTERVAL": "-5s"}, Config{Interval: -5 * time.Second},
			[]string{"SIDECAR_LAG_INTERVAL=-5s: must be a duration such as 30s, or 0s for off"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"SIDECAR_LAG_INTERVAL", "SIDECAR_SOURCE_CONNECTOR", "SIDECAR_CHECKPOINT_CONNECTOR"} {
				t.Setenv(k, "") // restored after the test
				if v, ok := tc.env[k]; ok {
					t.Setenv(k, v)
				} else if err := os.Unsetenv(k); err != nil {
					t.Fatal(err)
				}
			}
			var c Config
			if err := envconfig.Process("", &c); err != nil {
				t.Fatal(err)
			}
			if c != tc.want {
				t.Errorf("config = %+v, want %+v", c, tc.want)
			}
			errs := c.Validate()
			if len(errs) != len(tc.errs) {
				t.Fatalf("errors %v, want %v", errs, tc.errs)
			}
			for i, err := range errs {
				if err.Error() != tc.errs[i] {
					t.Errorf("error %q, want %q", err, tc.errs[i])
				}
			}
		})
	}
}
