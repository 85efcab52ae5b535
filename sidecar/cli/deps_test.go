package cli

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"
)

// The production binary links no test double: the demo carries this
// package to run its sidecars, never the other way round.
func TestProductionBinaryCarriesNoTestDouble(t *testing.T) {
	out, err := exec.Command(externaltool.Path(t, "go"), "list", "-deps", "../cmd/connect-sidecar").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 || !slices.Contains(deps, "github.com/mm2-fargate/mm2-ecs/sidecar/cli") {
		t.Fatalf("go list -deps gave %d packages without sidecar/cli: not the binary's list", len(deps))
	}
	for _, d := range deps {
		for _, double := range []string{"/connecttest", "/mirror", "/kfake", "/s3test", "/s3mem", "gofakes3", "/sidecar/demo", "/internal/realkafka"} {
			if strings.Contains(d, double) {
				t.Errorf("connect-sidecar links %s", d)
			}
		}
	}
}
