package ecsmeta

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// serveTask serves body at /task the way the ECS agent does, and counts
// requests.
func serveTask(t *testing.T, status int, body []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4/abc/task" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchFargateExample(t *testing.T) {
	body, err := os.ReadFile("testdata/fargate-task.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := serveTask(t, http.StatusOK, body)
	got, err := Fetch(context.Background(), srv.Client(), srv.URL+"/v4/abc")
	if err != nil {
		t.Fatal(err)
	}
	want := Task{
		Cluster:          "default",
		ClusterARN:       "arn:aws:ecs:us-west-2:111122223333:cluster/default",
		TaskARN:          "arn:aws:ecs:us-west-2:111122223333:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3",
		TaskID:           "e9028f8d5d8e4f258373e7b93ce9a3c3",
		Family:           "curltest",
		Revision:         "3",
		AvailabilityZone: "us-west-2a",
		PrivateIPv4:      "192.0.2.3",
		CPULimit:         0.25,
		MemoryLimitMiB:   512,
	}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestFromEnv(t *testing.T) {
	body, _ := os.ReadFile("testdata/fargate-task.json")
	srv := serveTask(t, http.StatusOK, body)

	t.Setenv(EnvVar, "")
	if _, ok, err := FromEnv(context.Background(), srv.Client()); ok || err != nil {
		t.Fatalf("outside ECS: ok=%v err=%v", ok, err)
	}
	t.Setenv(EnvVar, srv.URL+"/v4/abc/")
	task, ok, err := FromEnv(context.Background(), srv.Client())
	if !ok || err != nil || task.PrivateIPv4 != "192.0.2.3" {
		t.Fatalf("on ECS: %+v ok=%v err=%v", task, ok, err)
	}
}

func TestFetchErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{"server error", http.StatusInternalServerError, `{}`, "HTTP 500"},
		{"not json", http.StatusOK, `<html>`, "decode"},
		{"no task ARN", http.StatusOK, `{"Cluster":"x"}`, "no TaskARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serveTask(t, tt.status, []byte(tt.body))
			_, err := Fetch(context.Background(), srv.Client(), srv.URL+"/v4/abc")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), srv.URL+"/v4/abc/task") {
				t.Fatalf("error %v, want %q naming the endpoint", err, tt.wantErr)
			}
		})
	}
}

func TestParseClusterByName(t *testing.T) {
	// Older agents report the cluster by name rather than by ARN.
	task, err := parse([]byte(`{"Cluster":"prod","TaskARN":"arn:aws:ecs:eu-west-1:1:task/abc","Containers":[{"Networks":[{"NetworkMode":"bridge","IPv4Addresses":["172.17.0.2"]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if task.Cluster != "prod" || task.TaskID != "abc" || task.PrivateIPv4 != "" {
		t.Errorf("%+v", task)
	}
}

func FuzzParse(f *testing.F) {
	body, err := os.ReadFile("testdata/fargate-task.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add([]byte(`{"TaskARN":"a/b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		task, err := parse(b)
		if err == nil && task.TaskARN == "" {
			t.Fatal("parsed a task without an ARN")
		}
	})
}

func TestOverride(t *testing.T) {
	base := Task{Cluster: "prod", ServiceName: "mm2-connect", TaskID: "abc"}
	tests := []struct {
		name, cluster, service string
		want                   Task
	}{
		{"metadata kept", "", "", base},
		{"both set", "c2", "s2", Task{Cluster: "c2", ServiceName: "s2", TaskID: "abc"}},
		{"service only", "", "s2", Task{Cluster: "prod", ServiceName: "s2", TaskID: "abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := base.Override(tt.cluster, tt.service); got != tt.want {
				t.Errorf("Override(%q, %q) = %+v, want %+v", tt.cluster, tt.service, got, tt.want)
			}
		})
	}
}
