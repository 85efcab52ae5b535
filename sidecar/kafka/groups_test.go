package kafka

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// checkScenarioGroups checks the verdicts of scenario's groups.
func checkScenarioGroups(t *testing.T, snap *Snapshot) {
	t.Helper()
	want := map[string]Verdict{"g-behind": Behind, "g-neg": NegativeLag, "g-nocp": NoCheckpoint, "g-synced": Synced}
	if len(snap.Groups) != len(want) {
		t.Fatalf("groups = %+v, want %d", snap.Groups, len(want))
	}
	for _, g := range snap.Groups {
		if g.Verdict != want[g.Group] {
			t.Errorf("group %s = %s, want %s", g.Group, g.Verdict, want[g.Group])
		}
	}
	if p := snap.Groups[0].Partitions[0]; p.SourceOffset != 6 || p.Upstream != 4 || p.TargetOffset != 4 || p.TargetEnd != 6 {
		t.Errorf("g-behind partition = %+v", p)
	}
}

// TestGroupOffsetsVersions reads group offsets with every shape of
// OffsetFetch: v10+ names topics by ID, v8-v9 by name, and before v8 a
// request takes one group.
func TestGroupOffsetsVersions(t *testing.T) {
	for _, max := range []int16{10, 9, 7, 3} {
		t.Run(fmt.Sprintf("OffsetFetch v%d", max), func(t *testing.T) {
			e := scenario(t)
			v := kversion.Stable()
			v.SetMaxKeyVersion(int16(kmsg.OffsetFetch), max)
			m := NewMeasurer(e.api, MeasurerOptions{ClientOpts: []kgo.Opt{kgo.MaxVersions(v)}})
			t.Cleanup(m.Close)
			snap, err := m.Measure(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			checkScenarioGroups(t, snap)
		})
	}
}

// TestGroupOffsetsCoordinatorErrors: a group whose coordinator moved is
// asked again; any other group error fails the measurement, naming the
// cluster and the group.
func TestGroupOffsetsCoordinatorErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int16
		times   int
		wantErr string
	}{
		{"coordinator moved once", kerr.NotCoordinator.Code, 1, ""},
		{"coordinator loading twice", kerr.CoordinatorLoadInProgress.Code, 2, ""},
		{"not authorized", kerr.GroupAuthorizationFailed.Code, 1, `source cluster "src": fetch group offsets: group g-behind: GROUP_AUTHORIZATION_FAILED`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := scenario(t)
			failed := 0
			e.src.ControlKey(int16(kmsg.OffsetFetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
				e.src.KeepControl()
				if failed == tc.times {
					return nil, nil, false
				}
				failed++
				req := kreq.(*kmsg.OffsetFetchRequest)
				resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
				resp.Version = req.Version
				for _, g := range req.Groups {
					rg := kmsg.NewOffsetFetchResponseGroup()
					rg.Group, rg.ErrorCode = g.Group, tc.code
					resp.Groups = append(resp.Groups, rg)
				}
				return resp, nil, true
			})
			m := NewMeasurer(e.api, MeasurerOptions{})
			t.Cleanup(m.Close)
			snap, err := m.Measure(ctxT(t))
			if failed != tc.times {
				t.Errorf("%d OffsetFetch requests failed, want %d", failed, tc.times)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkScenarioGroups(t, snap)
		})
	}
}
