package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// ConnectAPI is what the Connect check needs from Kafka Connect REST.
type ConnectAPI interface {
	BaseURL() string
	Plugins(ctx context.Context) ([]connect.Plugin, error)
	Validate(ctx context.Context, class string, cfg map[string]string) (connect.Validation, error)
}

// connect: when Connect answers, the MM2 plugins are installed and Connect
// accepts every MM2 connector file, its own messages shown.
func (p *run) connect(ctx context.Context) Result {
	r := Result{Check: CheckConnect, Status: Pass}
	if p.in.Connect == nil {
		r.Status, r.Found, r.Fix = Warn, "not checked: no Connect REST URL", "run again with SIDECAR_CONNECT_URL pointing at a worker"
		return r
	}
	plugins, err := p.in.Connect.Plugins(ctx)
	if err != nil {
		r.Status, r.Found = Warn, fmt.Sprintf("not checked: Connect REST at %s does not answer: %v", p.in.Connect.BaseURL(), err)
		r.Fix = "start a worker (or point SIDECAR_CONNECT_URL at one) and run again"
		return r
	}
	var missing []string
	for _, cls := range []string{mm2.SourceConnectorClass, mm2.CheckpointConnectorClass, mm2.HeartbeatConnectorClass} {
		found := false
		for _, pl := range plugins {
			if mm2.IsConnectorClass(pl.Class, cls) {
				found = true
			}
		}
		if !found {
			missing = append(missing, cls[strings.LastIndex(cls, ".")+1:])
		}
	}
	if len(missing) > 0 {
		r.Status = Fail
		r.Found = "plugins not installed: " + strings.Join(missing, ", ")
		r.Fix = "use the connect-image of this repository, which ships connect-mirror on the plugin path"
		return r
	}
	var refused []string
	for _, c := range p.mig.mirror {
		v, err := p.in.Connect.Validate(ctx, c.Config["connector.class"], c.Config)
		if err != nil {
			refused = append(refused, fmt.Sprintf("%s: %v", c.Name, err))
			continue
		}
		if v.ErrorCount > 0 {
			refused = append(refused, fmt.Sprintf("%s: %s", c.Name, strings.Join(v.Messages(), "; ")))
		}
	}
	if len(refused) > 0 {
		r.Status = Fail
		r.Found = "Connect refuses: " + strings.Join(refused, " | ")
		r.Fix = "correct the connector files as Connect's messages say"
		return r
	}
	r.Found = fmt.Sprintf("MM2 plugins installed; Connect accepts all %d MM2 connector files", len(p.mig.mirror))
	return r
}
