package preflight

import (
	"fmt"
	"strings"

	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// migration is the connector files read as one MM2 migration.
type migration struct {
	msc      desired.Connector
	cpc      *desired.Connector // nil without a checkpoint connector
	mirror   []desired.Connector
	src, tgt kafka.Cluster
	topics   mm2.Filter
	groups   mm2.Filter
	policy   mm2.Policy
}

// newMigration finds the MirrorSourceConnector (and the checkpoint
// connector of the same source and target aliases) and reads the settings
// every check shares. Each error names the file and key.
func newMigration(in Input) (*migration, error) {
	m := &migration{}
	var found []desired.Connector
	for _, c := range in.Connectors {
		cls := c.Config["connector.class"]
		if mm2.IsConnectorClass(cls, mm2.SourceConnectorClass) || mm2.IsConnectorClass(cls, mm2.CheckpointConnectorClass) || mm2.IsConnectorClass(cls, mm2.HeartbeatConnectorClass) {
			m.mirror = append(m.mirror, c)
		}
		if in.SourceConnector != "" && c.Name != in.SourceConnector || !mm2.IsConnectorClass(cls, mm2.SourceConnectorClass) {
			continue
		}
		found = append(found, c)
	}
	switch {
	case len(found) == 0 && in.SourceConnector != "":
		return nil, fmt.Errorf("no MirrorSourceConnector named %q among %d connector files", in.SourceConnector, len(in.Connectors))
	case len(found) == 0:
		return nil, fmt.Errorf("no MirrorSourceConnector among %d connector files", len(in.Connectors))
	case len(found) > 1:
		names := make([]string, len(found))
		for i, c := range found {
			names[i] = c.Name
		}
		return nil, fmt.Errorf("%d MirrorSourceConnectors (%s): name one with SIDECAR_SOURCE_CONNECTOR", len(found), strings.Join(names, ", "))
	}
	m.msc = found[0]
	var err error
	inFile := func(c desired.Connector, err error) error {
		return fmt.Errorf("%s (connector %s): %w", c.File, c.Name, err)
	}
	if m.src, err = kafka.ClusterFromConnector(m.msc.Config, kafka.Source, in.Resolver); err != nil {
		return nil, inFile(m.msc, err)
	}
	if m.tgt, err = kafka.ClusterFromConnector(m.msc.Config, kafka.Target, in.Resolver); err != nil {
		return nil, inFile(m.msc, err)
	}
	if m.topics, err = mm2.TopicFilter(m.msc.Config); err != nil {
		return nil, inFile(m.msc, err)
	}
	if m.policy, err = mm2.PolicyFromConnector(m.msc.Config); err != nil {
		return nil, inFile(m.msc, err)
	}
	for i, c := range m.mirror {
		if !mm2.IsConnectorClass(c.Config["connector.class"], mm2.CheckpointConnectorClass) || alias(c.Config, kafka.Source) != m.src.Alias || alias(c.Config, kafka.Target) != m.tgt.Alias {
			continue
		}
		if m.cpc != nil {
			return nil, fmt.Errorf("two MirrorCheckpointConnectors from %q to %q: %s and %s", m.src.Alias, m.tgt.Alias, m.cpc.Name, c.Name)
		}
		m.cpc = &m.mirror[i]
		if m.groups, err = mm2.GroupFilter(c.Config); err != nil {
			return nil, inFile(c, err)
		}
	}
	return m, nil
}

// alias is a connector's cluster alias as MM2 reads it.
func alias(cfg map[string]string, role kafka.Role) string {
	if a := strings.TrimSpace(cfg[string(role)+".cluster.alias"]); a != "" {
		return a
	}
	return string(role)
}

// setting is a connector setting with MM2's default.
func setting(cfg map[string]string, key, def string) string {
	if v, ok := cfg[key]; ok {
		return strings.TrimSpace(v)
	}
	return def
}
