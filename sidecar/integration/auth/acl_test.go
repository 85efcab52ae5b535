package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/mm2-fargate/mm2-ecs/internal/mm2acl"
	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
)

// mm2Client is a client of b as the MM2 principal, authenticated the way
// the mode's files say.
func (s *stack) mm2Client(t *testing.T, b *realkafka.SecureBroker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	tc := &tls.Config{RootCAs: s.ca.Pool(), MinVersion: tls.VersionTLS12}
	base := []kgo.Opt{kgo.SeedBrokers(s.endpoint(b)), kgo.DialTLSConfig(tc), kgo.RetryTimeout(3 * time.Second), kgo.RequestRetries(1)}
	switch s.mode {
	case "scram":
		prefix := strings.ToUpper(clusterOf(s, b))
		base = append(base, kgo.SASL(scram.Auth{User: principal, Pass: s.secrets[prefix+"_SASL_PASSWORD"]}.AsSha512Mechanism()))
	case "mtls":
		tc.Certificates = []tls.Certificate{s.clientLeaf.TLSCertificate()}
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// probe does, as the MM2 principal, the one request an ACL authorizes,
// the way MM2, the Connect worker or the sidecar makes it.
type probe func(ctx context.Context, t *testing.T, s *stack) error

var probes = map[string]probe{
	"source Topic app. (prefixed) Read": func(ctx context.Context, t *testing.T, s *stack) error {
		// MirrorSourceTask's consumer: assigned partitions, no group.
		cl := s.mm2Client(t, s.source, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"app.orders": {0: kgo.NewOffset().AtStart()}}))
		return firstFetchErr(ctx, cl)
	},
	"source Topic app. (prefixed) Describe": func(ctx context.Context, t *testing.T, s *stack) error {
		_, err := kadm.NewClient(s.mm2Client(t, s.source)).ListEndOffsets(ctx, "app.orders")
		return listedErr(err)
	},
	"source Topic app. (prefixed) DescribeConfigs": func(ctx context.Context, t *testing.T, s *stack) error {
		rc, err := kadm.NewClient(s.mm2Client(t, s.source)).DescribeTopicConfigs(ctx, "app.orders")
		return firstErr(rc, err, func(r kadm.ResourceConfig) error { return r.Err })
	},
	"source Group app- (prefixed) Describe": func(ctx context.Context, t *testing.T, s *stack) error {
		_, err := kadm.NewClient(s.mm2Client(t, s.source)).FetchOffsets(ctx, "app-billing")
		return err
	},
	"source Cluster kafka-cluster Describe": func(ctx context.Context, t *testing.T, s *stack) error {
		return describeACLs(ctx, s.mm2Client(t, s.source))
	},
	"target Topic app. (prefixed) Create": func(ctx context.Context, t *testing.T, s *stack) error {
		return createTopic(ctx, s.mm2Client(t, s.target), "app.orders")
	},
	"target Topic app. (prefixed) Write": func(ctx context.Context, t *testing.T, s *stack) error {
		return produce(ctx, s.mm2Client(t, s.target), "app.orders")
	},
	"target Topic app. (prefixed) Read": func(ctx context.Context, t *testing.T, s *stack) error {
		// MirrorCheckpointTask's offset sync: an OffsetCommit needs Read on
		// the topic as well as on the group.
		return commit(ctx, s.mm2Client(t, s.target), "app-probe", "app.orders")
	},
	"target Topic app. (prefixed) Describe": func(ctx context.Context, t *testing.T, s *stack) error {
		_, err := kadm.NewClient(s.mm2Client(t, s.target)).ListEndOffsets(ctx, "app.orders")
		return listedErr(err)
	},
	"target Topic app. (prefixed) DescribeConfigs": func(ctx context.Context, t *testing.T, s *stack) error {
		rc, err := kadm.NewClient(s.mm2Client(t, s.target)).DescribeTopicConfigs(ctx, "app.orders")
		return firstErr(rc, err, func(r kadm.ResourceConfig) error { return r.Err })
	},
	"target Topic app. (prefixed) AlterConfigs": func(ctx context.Context, t *testing.T, s *stack) error {
		rs, err := kadm.NewClient(s.mm2Client(t, s.target)).AlterTopicConfigs(ctx,
			[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("604800000")}}, "app.orders")
		return firstErr(rs, err, func(r kadm.AlterConfigsResponse) error { return r.Err })
	},
	"target Topic app. (prefixed) Alter": func(ctx context.Context, t *testing.T, s *stack) error {
		rs, err := kadm.NewClient(s.mm2Client(t, s.target)).UpdatePartitions(ctx, 3, "app.orders")
		if err != nil {
			return err
		}
		return rs.Error()
	},
	"target Group app- (prefixed) Read": func(ctx context.Context, t *testing.T, s *stack) error {
		return commit(ctx, s.mm2Client(t, s.target), "app-probe", "app.orders")
	},
	"target Group app- (prefixed) Describe": func(ctx context.Context, t *testing.T, s *stack) error {
		_, err := kadm.NewClient(s.mm2Client(t, s.target)).FetchOffsets(ctx, "app-billing")
		return err
	},
	"target Cluster kafka-cluster Alter": func(ctx context.Context, t *testing.T, s *stack) error {
		acl := kadm.NewACLs().Allow("User:probe").AllowHosts("*").Topics("app.orders").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
		rs, err := kadm.NewClient(s.mm2Client(t, s.target)).CreateACLs(ctx, acl)
		return firstErr(rs, err, func(r kadm.CreateACLsResult) error { return r.Err })
	},
	"target Topic mm2-connect- (prefixed) Create": func(ctx context.Context, t *testing.T, s *stack) error {
		return createTopic(ctx, s.mm2Client(t, s.target), "mm2-connect-configs")
	},
	"target Topic mm2-connect- (prefixed) Read": func(ctx context.Context, t *testing.T, s *stack) error {
		cl := s.mm2Client(t, s.target, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"mm2-connect-configs": {0: kgo.NewOffset().AtStart()}}))
		return firstFetchErr(ctx, cl)
	},
	"target Topic mm2-connect- (prefixed) Write": func(ctx context.Context, t *testing.T, s *stack) error {
		return produce(ctx, s.mm2Client(t, s.target), "mm2-connect-status")
	},
	"target Topic mm2-connect- (prefixed) Describe": func(ctx context.Context, t *testing.T, s *stack) error {
		_, err := kadm.NewClient(s.mm2Client(t, s.target)).ListEndOffsets(ctx, "mm2-connect-configs")
		return listedErr(err)
	},
	"target Group mm2-connect Read": func(ctx context.Context, t *testing.T, s *stack) error {
		return commit(ctx, s.mm2Client(t, s.target), "mm2-connect", "mm2-connect-configs")
	},
}

// internalTopicProbes are the same four requests for each of MM2's
// internal topics on the target.
func init() {
	for _, topic := range []string{"mm2-offset-syncs.source.internal", "source.checkpoints.internal", "heartbeats"} {
		probes["target Topic "+topic+" Create"] = func(ctx context.Context, t *testing.T, s *stack) error {
			return createTopic(ctx, s.mm2Client(t, s.target), topic)
		}
		probes["target Topic "+topic+" Write"] = func(ctx context.Context, t *testing.T, s *stack) error {
			return produce(ctx, s.mm2Client(t, s.target), topic)
		}
		probes["target Topic "+topic+" Read"] = func(ctx context.Context, t *testing.T, s *stack) error {
			cl := s.mm2Client(t, s.target, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
			return firstFetchErr(ctx, cl)
		}
		probes["target Topic "+topic+" Describe"] = func(ctx context.Context, t *testing.T, s *stack) error {
			_, err := kadm.NewClient(s.mm2Client(t, s.target)).ListEndOffsets(ctx, topic)
			return listedErr(err)
		}
	}
}

func firstFetchErr(ctx context.Context, cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return err
		}
		if fs.NumRecords() > 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func listedErr(err error) error {
	var e *kadm.ShardErrors
	if errors.As(err, &e) && len(e.Errs) > 0 {
		return e.Errs[0].Err
	}
	return err
}

// firstErr is err, or else the first error of rs's items.
func firstErr[T any](rs []T, err error, itemErr func(T) error) error {
	if err != nil {
		return err
	}
	for _, r := range rs {
		if e := itemErr(r); e != nil {
			return e
		}
	}
	return nil
}

func describeACLs(ctx context.Context, cl *kgo.Client) error {
	rs, err := kadm.NewClient(cl).DescribeACLs(ctx, kadm.NewACLs().Topics().Allow().AllowHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternLiteral))
	return firstErr(rs, err, func(r kadm.DescribeACLsResult) error { return r.Err })
}

func createTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	r, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, topic)
	if err != nil {
		return err
	}
	return r.Err
}

func produce(ctx context.Context, cl *kgo.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("acl-probe")}).FirstErr()
}

func commit(ctx context.Context, cl *kgo.Client, group, topic string) error {
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
	r, err := kadm.NewClient(cl).CommitOffsets(ctx, group, offs)
	if err != nil {
		return err
	}
	return r.Error()
}

// authzErrs are the errors a broker answers a request with when an ACL is
// missing.
var authzErrs = []error{kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed}

func isAuthz(err error) bool {
	for _, e := range authzErrs {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// leastPrivilege removes each ACL of the README's list in turn, checks
// that the request it authorizes is refused with an authorization error,
// and puts it back. Every line of the list must have a probe, so a line
// nobody can show to be needed fails the test.
func (s *stack) leastPrivilege(t *testing.T) {
	for _, cluster := range []string{"source", "target"} {
		b := s.source
		if cluster == "target" {
			b = s.target
		}
		for _, e := range s.acls[cluster] {
			t.Run(e.String(), func(t *testing.T) {
				p, ok := probes[e.String()]
				if !ok {
					t.Fatalf("no probe for %s (%s)", e, e.FailsWith)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := setACLs(ctx, b, []mm2acl.Entry{e}, false); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if err := setACLs(context.Background(), b, []mm2acl.Entry{e}, true); err != nil {
						t.Errorf("restoring %s: %v", e, err)
					}
				}()
				err := waitRefused(ctx, t, s, p)
				if !isAuthz(err) {
					t.Fatalf("without %s the request it authorizes gave %v, want an authorization error", e, err)
				}
				t.Logf("without it: %v (documented: %s)", err, e.FailsWith)
				if strings.Contains(e.FailsWith, "the sidecar") {
					// The sidecar's own measurement fails too, and says so.
					_, stderr, code := s.status(t, nil)
					if code != 1 || !strings.Contains(stderr, fmt.Sprintf("%s cluster %q: ", e.Cluster, e.Cluster)) || !strings.Contains(stderr, "AUTHORIZATION_FAILED") {
						t.Errorf("without %s, status exited %d: %s", e, code, stderr)
					} else {
						t.Logf("status: %s", strings.TrimSpace(stderr))
					}
				}
			})
		}
	}
}

// waitRefused runs the probe once; setACLs has waited for the broker's
// authorizer to drop the ACL, and a retried write could land a record.
func waitRefused(ctx context.Context, t *testing.T, s *stack, p probe) error {
	t.Helper()
	return p(ctx, t, s)
}
