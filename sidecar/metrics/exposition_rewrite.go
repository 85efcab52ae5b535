package metrics

import "bytes"

// TaskLabels are the labels added to every passed-through sample. Empty
// values are left out, as Prometheus treats an empty label as absent.
type TaskLabels struct {
	// Cluster is the ecs_cluster label: the ECS cluster's name.
	Cluster string
	// Service is the ecs_service label: the ECS service's name.
	Service string
	// TaskID is the ecs_task_id label: the last part of the task's ARN.
	TaskID string
	// AvailabilityZone is the availability_zone label, such as
	// eu-west-1a.
	AvailabilityZone string
}

func (t TaskLabels) pairs() [][2]string {
	all := [][2]string{
		{"ecs_cluster", t.Cluster},
		{"ecs_service", t.Service},
		{"ecs_task_id", t.TaskID},
		{"availability_zone", t.AvailabilityZone},
	}
	out := all[:0]
	for _, p := range all {
		if p[1] != "" {
			out = append(out, p)
		}
	}
	return out
}

// conflicts reports whether a label of the sample has a task label's name.
// clash is true when the exported_<name> rename would itself collide.
func (p *Processor) conflicts(line []byte) (conflict, clash bool) {
	for _, l := range p.labels {
		name := line[l.ns:l.ne]
		// Task label names are 11 or 17 bytes long, 20 or 26 with "exported_":
		// most labels are ruled out by length alone.
		switch len(name) {
		case 11, 17, 20, 26:
		default:
			continue
		}
		for _, o := range p.own {
			if bytes.Equal(name, o) {
				conflict = true
			}
			if bytes.HasPrefix(name, []byte("exported_")) && bytes.Equal(name[len("exported_"):], o) {
				clash = true
			}
		}
	}
	return conflict, conflict && clash
}

// appendLabels renders the parsed labels except skip, renaming any label
// that collides with a task label to exported_<name>, as Prometheus does.
func (p *Processor) appendLabels(dst, line []byte, skip int, checkConflicts bool) []byte {
	first := true
	for k, l := range p.labels {
		if k == skip {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		name := line[l.ns:l.ne]
		if checkConflicts {
			for _, o := range p.own {
				if bytes.Equal(name, o) {
					dst = append(dst, "exported_"...)
					break
				}
			}
		}
		dst = append(dst, name...)
		dst = append(dst, '=', '"')
		dst = append(dst, line[l.vs:l.ve]...)
		dst = append(dst, '"')
	}
	return dst
}

func (p *Processor) writeSample(name, line, value []byte, conflict bool) {
	w := p.out
	w.Write(name)
	hasLabels := len(p.labels) > 0
	if hasLabels || len(p.prefix) > 0 {
		w.WriteByte('{')
		w.Write(p.prefix)
		if hasLabels {
			if len(p.prefix) > 0 {
				w.WriteByte(',')
			}
			if conflict {
				p.keyBuf = p.appendLabels(p.keyBuf[:0], line, -1, true)
				w.Write(p.keyBuf)
			} else {
				first, last := p.labels[0], p.labels[len(p.labels)-1]
				w.Write(line[first.ns : last.ve+1])
			}
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.Write(value)
	w.WriteByte('\n')
	p.res.Written++
}

func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '"':
			dst = append(dst, '\\', '"')
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
