package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
)

func TestSCRAM(t *testing.T) { testMode(t, "scram") }

func TestMTLS(t *testing.T) { testMode(t, "mtls") }

// testMode proves one mode end to end with the least-privilege ACLs: data
// replicates, groups sync, the sidecar measures in that mode and
// `status --cutover` passes.
func testMode(t *testing.T, mode string) {
	need(t)
	began := time.Now()
	s := startStack(t, mode)
	if !t.Run("replicates and syncs groups", func(t *testing.T) { s.converges(t) }) {
		return
	}
	t.Run("least privilege", s.leastPrivilege)
	t.Run("operator errors", s.operatorErrors)
	t.Logf("%s: wall time %s", mode, time.Since(began).Round(time.Second))
}

// converges waits for `status --cutover` to pass, then checks the target
// against the source as a client of the setup listener.
func (s *stack) converges(t *testing.T) {
	deadline := time.Now().Add(4 * time.Minute)
	var out, errOut string
	code := -1
	for time.Now().Before(deadline) {
		out, errOut, code = s.status(t, nil, "--cutover", groups[0], groups[1])
		if code == 0 {
			break
		}
		if code == 2 {
			t.Logf("status: %s", strings.TrimSpace(errOut))
		}
		time.Sleep(5 * time.Second)
	}
	if code != 0 {
		t.Fatalf("status --cutover never passed (exit %d):\n%s\n%s", code, out, errOut)
	}
	t.Logf("status --cutover passed:\n%s", out)
	// The ACL sync runs every 20 s (sync.topic.acls.interval.seconds).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src, tgt := s.admin(t, s.source), s.admin(t, s.target)
	for topic := range sourceTopics {
		se, err := src.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		te, err := tgt.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		se.Each(func(o kadm.ListedOffset) {
			got, ok := te.Lookup(topic, o.Partition)
			if !ok || got.Err != nil || got.Offset != o.Offset {
				t.Errorf("%s[%d]: target end %+v, source end %d", topic, o.Partition, got, o.Offset)
			}
		})
	}
	topics, err := tgt.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has(unlisted) {
		t.Errorf("%s was replicated although the MM2 principal has no ACL on it", unlisted)
	}
	// The examples sync topic ACLs: the application's Read on app.orders
	// reaches the target through the two ACL-sync lines of the list.
	appACL := kadm.NewACLs().Allow("User:billing-app").AllowHosts().Topics("app.orders").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	for {
		res, err := tgt.DescribeACLs(ctx, appACL)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) == 1 && res[0].Err == nil && len(res[0].Described) == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("User:billing-app's Read on app.orders never reached the target: %+v", res)
		}
		time.Sleep(time.Second)
	}
}

// admin is a super-user admin client on b's setup listener.
func (s *stack) admin(t *testing.T, b *realkafka.SecureBroker) *kadm.Client {
	t.Helper()
	cl, err := b.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}
