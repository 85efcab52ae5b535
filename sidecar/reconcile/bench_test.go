package reconcile

import (
	"context"
	"fmt"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
)

func manyConnectors(b *testing.B, n int) desired.Set {
	b.Helper()
	var set desired.Set
	for i := range n {
		body := fmt.Sprintf(`{"name":"mm2-msc-%03d","config":{"connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","tasks.max":4,"source.cluster.alias":"src%d","target.cluster.alias":"dst","topics":"t%d\\..*","replication.factor":3,"sync.topic.acls.enabled":false}}`, i, i, i)
		c, err := desired.Parse(fmt.Sprintf("file:///bench/%03d.json", i), []byte(body))
		if err != nil {
			b.Fatal(err)
		}
		set.Connectors = append(set.Connectors, c)
	}
	return set
}

func reportRequests(b *testing.B, c *connecttest.Cluster) {
	b.Helper()
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		b.ReportMetric(float64(c.Requests()[m])/float64(b.N), m+"/op")
	}
}

// BenchmarkConverge200 creates 200 connectors from an empty cluster.
func BenchmarkConverge200(b *testing.B) {
	set := manyConnectors(b, 200)
	var c *connecttest.Cluster
	var gets, posts int
	for range b.N {
		b.StopTimer()
		c = connecttest.NewCluster(b, 1)
		r := New(newClient(b, c.URL(), 0), Options{Sleep: noSleep})
		b.StartTimer()
		rep := r.Cycle(context.Background(), set)
		if !rep.Applied || len(c.Connectors()) != 200 {
			b.Fatalf("not converged: %v", rep.Errors)
		}
		gets += c.Requests()["GET"]
		posts += c.Requests()["POST"]
	}
	b.ReportMetric(float64(gets)/float64(b.N), "GET/op")
	b.ReportMetric(float64(posts)/float64(b.N), "POST/op")
}

// BenchmarkSteady200 is one cycle with 200 unchanged connectors, against a
// baseline that reads every connector's config on its own, as a reconciler
// without the expanded listing would.
func BenchmarkSteady200(b *testing.B) {
	set := manyConnectors(b, 200)
	c := connecttest.NewCluster(b, 1)
	r := New(newClient(b, c.URL(), 0), Options{Config: Config{AutoRestart: true}, Sleep: noSleep})
	if rep := r.Cycle(context.Background(), set); !rep.Applied {
		b.Fatal(rep.Errors)
	}
	b.Run("expanded-listing", func(b *testing.B) {
		c.ResetCounters()
		for range b.N {
			if rep := r.Cycle(context.Background(), set); rep.Writes != 0 {
				b.Fatalf("steady cycle wrote %d", rep.Writes)
			}
		}
		reportRequests(b, c)
	})
	b.Run("baseline-get-per-connector", func(b *testing.B) {
		client := newClient(b, c.URL(), 0)
		c.ResetCounters()
		for range b.N {
			for _, d := range set.Connectors {
				if _, err := client.Config(context.Background(), d.Name); err != nil {
					b.Fatal(err)
				}
			}
		}
		reportRequests(b, c)
	})
}
