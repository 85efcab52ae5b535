package worker

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
)

// The advertised URL and worker id are what leadership and per-worker
// metrics are matched on; each way of arriving at them is checked.
func TestIdentify(t *testing.T) {
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"Cluster":"prod","TaskARN":"arn:aws:ecs:eu-west-1:1:task/prod/abc",` +
			`"Containers":[{"Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.1.5"]}]}]}`))
	}))
	t.Cleanup(meta.Close)
	tests := []struct {
		name                string
		onECS               bool
		connectURL          string
		advertisedURL       string
		wantURL, wantWorker string
	}{
		{"off ECS: the Connect URL", false, "http://localhost:8083", "", "http://localhost:8083", "localhost:8083"},
		{"off ECS: default http port", false, "http://connect.internal", "", "http://connect.internal", "connect.internal:80"},
		{"on ECS: task IPv4 and the Connect URL's port", true, "http://localhost:8083/api", "", "http://10.0.1.5:8083/", "10.0.1.5:8083"},
		{"on ECS: default https port", true, "https://localhost", "", "https://10.0.1.5:443/", "10.0.1.5:443"},
		{"explicit setting wins on ECS", true, "http://localhost:8083", "https://w1.example:8443/", "https://w1.example:8443/", "w1.example:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(ecsmeta.EnvVar, "")
			os.Unsetenv(ecsmeta.EnvVar)
			if tt.onECS {
				t.Setenv(ecsmeta.EnvVar, meta.URL)
			}
			w, err := Identify(context.Background(), Config{AdvertisedURL: tt.advertisedURL}, tt.connectURL, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if w.AdvertisedURL != tt.wantURL || w.ID != tt.wantWorker {
				t.Errorf("advertised %q, worker %q; want %q, %q", w.AdvertisedURL, w.ID, tt.wantURL, tt.wantWorker)
			}
		})
	}
}
