package metrics

import "bytes"

type labelSpan struct{ ns, ne, vs, ve int }

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// validHelp accepts the escapes the text format allows in HELP: \\ and \n.
func validHelp(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) || (b[i+1] != '\\' && b[i+1] != 'n') {
			return false
		}
		i++
	}
	return true
}

// scanMetricName returns the length of the metric name at the start of b.
func scanMetricName(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	c := b[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':') {
		return 0
	}
	i := 1
	for i < len(b) {
		c = b[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':') {
			break
		}
		i++
	}
	return i
}

func scanLabelName(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	c := b[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
		return 0
	}
	i := 1
	for i < len(b) {
		c = b[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			break
		}
		i++
	}
	return i
}

// parseLabels parses the label set starting after '{' at i and returns the
// index after the closing '}'.
func (p *Processor) parseLabels(line []byte, i int) (int, bool) {
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) {
			return 0, false
		}
		if line[i] == '}' {
			return i + 1, true
		}
		n := scanLabelName(line[i:])
		if n == 0 {
			return 0, false
		}
		sp := labelSpan{ns: i, ne: i + n}
		i += n
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) || line[i] != '=' {
			return 0, false
		}
		i++
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) || line[i] != '"' {
			return 0, false
		}
		i++
		sp.vs = i
		for {
			for i < len(line) && line[i] != '"' && line[i] != '\\' {
				i++
			}
			if i >= len(line) {
				return 0, false
			}
			if line[i] == '"' {
				break
			}
			if i+1 >= len(line) {
				return 0, false
			}
			switch line[i+1] {
			case '\\', '"', 'n':
			default:
				return 0, false
			}
			i += 2
		}
		sp.ve = i
		i++
		name := line[sp.ns:sp.ne]
		for _, l := range p.labels {
			if bytes.Equal(line[l.ns:l.ne], name) {
				return 0, false
			}
		}
		p.labels = append(p.labels, sp)
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) {
			return 0, false
		}
		switch line[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

func (p *Processor) labelIndex(line []byte, name string) int {
	for k, l := range p.labels {
		if string(line[l.ns:l.ne]) == name {
			return k
		}
	}
	return -1
}

func validTimestamp(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func unescapeLabel(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
			if b[i] == 'n' {
				out = append(out, '\n')
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}
