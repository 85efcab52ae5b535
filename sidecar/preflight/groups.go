package preflight

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// groups: the checkpoint connector emits checkpoints and syncs offsets;
// which source groups will sync and why the others will not; synced
// groups with members on the target, whose offsets MM2 does not write.
func (p *run) groups(ctx context.Context) Result {
	r := Result{Check: CheckGroups, Status: Pass}
	cpc := p.mig.cpc
	if cpc == nil {
		r.Status, r.Found = Warn, fmt.Sprintf("no MirrorCheckpointConnector from %q to %q: no group offsets will be synced", p.mig.src.Alias, p.mig.tgt.Alias)
		r.Fix = "add a MirrorCheckpointConnector file with the same aliases and sync.group.offsets.enabled=true"
		return r
	}
	if setting(cpc.Config, "emit.checkpoints.enabled", "true") == "false" {
		r.Status, r.Found = Fail, fmt.Sprintf("%s: emit.checkpoints.enabled=false: no offsets can be translated", cpc.Name)
		r.Fix = fmt.Sprintf("remove emit.checkpoints.enabled=false from %s", cpc.File)
		return r
	}
	if res, ok := unreachable(CheckGroups, p.src, p.tgt); ok {
		return res
	}
	var found, fixes []string
	if setting(cpc.Config, "sync.group.offsets.enabled", "false") != "true" {
		r.Status = Warn
		found = append(found, fmt.Sprintf("%s: sync.group.offsets.enabled is not true: checkpoints only, consumers must translate offsets themselves", cpc.Name))
		fixes = append(fixes, fmt.Sprintf("set sync.group.offsets.enabled=true in %s", cpc.File))
	}
	listed, err := p.src.adm.ListGroups(ctx)
	if err != nil {
		r.Status = worse(r.Status, Warn)
		r.Found = strings.Join(append(found, fmt.Sprintf("source groups not listed: %v", err)), "; ")
		r.Fix = "grant DESCRIBE on the source groups"
		return r
	}
	names := listed.Groups()
	sort.Strings(names)
	var candidates, filtered []string
	for _, g := range names {
		if p.mig.groups.Match(g) {
			candidates = append(candidates, g)
		} else {
			filtered = append(filtered, g)
		}
	}
	selected := make(map[string]bool, len(p.selected))
	for _, t := range p.selected {
		selected[t.name] = true
	}
	var sync, noOffsets []string
	if len(candidates) > 0 {
		offsets := p.src.adm.FetchManyOffsets(ctx, candidates...)
		for _, g := range candidates {
			resp, ok := offsets[g]
			has := false
			if ok && resp.Err == nil {
				resp.Fetched.Each(func(o kadm.OffsetResponse) {
					if selected[o.Topic] && o.At >= 0 {
						has = true
					}
				})
			}
			if has {
				sync = append(sync, g)
			} else {
				noOffsets = append(noOffsets, g)
			}
		}
	}
	var active []string
	if len(sync) > 0 {
		described, err := p.tgt.adm.DescribeGroups(ctx, sync...)
		if err == nil {
			for _, g := range described.Sorted() {
				if len(g.Members) > 0 {
					active = append(active, fmt.Sprintf("%s (%d members)", g.Group, len(g.Members)))
				}
			}
		} else {
			found = append(found, fmt.Sprintf("target groups not described: %v", err))
			r.Status = worse(r.Status, Warn)
		}
	}
	if len(active) > 0 {
		r.Status = worse(r.Status, Warn)
		found = append(found, "active on the target, MM2 will not write their offsets: "+strings.Join(trim(active, 5), ", "))
		fixes = append(fixes, "stop those consumers on the target until their offsets are synced")
	}
	if _, set := cpc.Config["groups"]; set && len(candidates) == 0 {
		r.Status = worse(r.Status, Warn)
		fixes = append(fixes, fmt.Sprintf("correct \"groups\" in %s", cpc.File))
	}
	found = append(found, fmt.Sprintf("%d source groups: %d will sync (%s)", len(names), len(sync), strings.Join(trim(sync, 8), " ")))
	if len(noOffsets) > 0 {
		found = append(found, fmt.Sprintf("%d have no offsets on selected topics (%s)", len(noOffsets), strings.Join(trim(noOffsets, 5), " ")))
	}
	if len(filtered) > 0 {
		found = append(found, fmt.Sprintf("%d not matched by groups/groups.exclude (%s)", len(filtered), strings.Join(trim(filtered, 5), " ")))
	}
	r.Found, r.Fix = strings.Join(found, "; "), strings.Join(fixes, "; ")
	return r
}
