package kafka

import (
	"fmt"
	"strings"
)

// JAASEntry is one login module of a sasl.jaas.config value.
type JAASEntry struct {
	// LoginModule is the login module's class name, such as
	// org.apache.kafka.common.security.scram.ScramLoginModule.
	LoginModule string
	// Flag is the control flag: required, requisite, sufficient or
	// optional, lower case.
	Flag string
	// Options are the module's key=value options, quotes and escapes
	// removed; they may hold passwords. Never nil.
	Options map[string]string
}

// ParseJAAS parses a sasl.jaas.config value the way Kafka's JaasConfig does:
// "Module flag key=value key="quoted value";" repeated, with // and /* */
// comments, single or double quotes and backslash escapes inside quotes.
// Errors name keys and positions, never values: values hold passwords.
func ParseJAAS(s string) ([]JAASEntry, error) {
	lx := jaasLexer{s: s}
	var entries []JAASEntry
	for {
		tok, err := lx.next()
		if err != nil {
			return nil, err
		}
		if tok.kind == tokEOF {
			break
		}
		if tok.kind != tokWord {
			return nil, fmt.Errorf("jaas config: login module class expected at offset %d", tok.pos)
		}
		e := JAASEntry{LoginModule: tok.text, Options: map[string]string{}}
		flag, err := lx.next()
		if err != nil {
			return nil, err
		}
		if flag.kind != tokWord {
			return nil, fmt.Errorf("jaas config: control flag of %s not specified", e.LoginModule)
		}
		switch f := strings.ToLower(flag.text); f {
		case "required", "requisite", "sufficient", "optional":
			e.Flag = f
		default:
			return nil, fmt.Errorf("jaas config: invalid control flag %q of %s (want required, requisite, sufficient or optional)", flag.text, e.LoginModule)
		}
		for {
			key, err := lx.next()
			if err != nil {
				return nil, err
			}
			if key.kind == tokSemicolon {
				break
			}
			if key.kind == tokEOF {
				return nil, fmt.Errorf("jaas config: entry %s not terminated by a semicolon", e.LoginModule)
			}
			if key.kind != tokWord {
				return nil, fmt.Errorf("jaas config: option name expected at offset %d", key.pos)
			}
			eq, err := lx.next()
			if err != nil {
				return nil, err
			}
			if eq.kind != tokEquals {
				// Not named: a word without "=" is as likely the rest of an
				// unquoted password as an option name.
				return nil, fmt.Errorf("jaas config: \"=\" expected after the option name at offset %d", key.pos)
			}
			val, err := lx.next()
			if err != nil {
				return nil, err
			}
			if val.kind != tokWord && val.kind != tokQuoted {
				return nil, fmt.Errorf("jaas config: value not specified for key %q (quote values that are not plain words)", key.text)
			}
			e.Options[key.text] = val.text
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("jaas config: login module not specified")
	}
	return entries, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuoted
	tokEquals
	tokSemicolon
	tokOther
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type jaasLexer struct {
	s   string
	pos int
}

// Word characters follow java.io.StreamTokenizer as Kafka configures it:
// letters, bytes >= 0xA0, '-', '_' and '$' start a word; digits and '.'
// continue one.
func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0xA0 || c == '-' || c == '_' || c == '$'
}

func isWordPart(c byte) bool {
	return isWordStart(c) || c >= '0' && c <= '9' || c == '.'
}

func (lx *jaasLexer) next() (token, error) {
	for lx.pos < len(lx.s) {
		c := lx.s[lx.pos]
		switch {
		case c <= ' ':
			lx.pos++
		case c == '/' && strings.HasPrefix(lx.s[lx.pos:], "/*"):
			end := strings.Index(lx.s[lx.pos+2:], "*/")
			if end < 0 {
				return token{}, fmt.Errorf("jaas config: unterminated comment at offset %d", lx.pos)
			}
			lx.pos += 2 + end + 2
		case c == '/':
			// StreamTokenizer treats '/' as a line comment, "//" included.
			end := strings.IndexByte(lx.s[lx.pos:], '\n')
			if end < 0 {
				lx.pos = len(lx.s)
			} else {
				lx.pos += end + 1
			}
		default:
			return lx.token()
		}
	}
	return token{kind: tokEOF, pos: lx.pos}, nil
}

func (lx *jaasLexer) token() (token, error) {
	start := lx.pos
	c := lx.s[start]
	switch {
	case c == '=':
		lx.pos++
		return token{kind: tokEquals, pos: start}, nil
	case c == ';':
		lx.pos++
		return token{kind: tokSemicolon, pos: start}, nil
	case c == '"' || c == '\'':
		return lx.quoted(c)
	case isWordStart(c):
		for lx.pos < len(lx.s) && isWordPart(lx.s[lx.pos]) {
			lx.pos++
		}
		return token{kind: tokWord, text: lx.s[start:lx.pos], pos: start}, nil
	case c >= '0' && c <= '9' || c == '.':
		// A number token: StreamTokenizer gives it no string value, so
		// Kafka rejects it as a value; keep the same rule.
		for lx.pos < len(lx.s) && isWordPart(lx.s[lx.pos]) {
			lx.pos++
		}
		return token{kind: tokOther, pos: start}, nil
	default:
		lx.pos++
		return token{kind: tokOther, pos: start}, nil
	}
}

func (lx *jaasLexer) quoted(q byte) (token, error) {
	start := lx.pos
	lx.pos++
	var b strings.Builder
	for lx.pos < len(lx.s) {
		c := lx.s[lx.pos]
		switch {
		case c == q:
			lx.pos++
			return token{kind: tokQuoted, text: b.String(), pos: start}, nil
		case c == '\n' || c == '\r':
			return token{}, fmt.Errorf("jaas config: quoted value starting at offset %d ends at a line break", start)
		case c == '\\':
			if lx.pos+1 >= len(lx.s) {
				return token{}, fmt.Errorf("jaas config: unterminated quoted value starting at offset %d", start)
			}
			lx.pos++
			e := lx.s[lx.pos]
			switch e {
			case 'a':
				b.WriteByte(7)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'v':
				b.WriteByte('\v')
			default:
				if e >= '0' && e <= '7' {
					// Up to three octal digits, the first at most '3', as
					// StreamTokenizer reads them.
					v := int(e - '0')
					maxDigits := 2
					if e > '3' {
						maxDigits = 1
					}
					for i := 0; i < maxDigits && lx.pos+1 < len(lx.s) && lx.s[lx.pos+1] >= '0' && lx.s[lx.pos+1] <= '7'; i++ {
						lx.pos++
						v = v*8 + int(lx.s[lx.pos]-'0')
					}
					b.WriteByte(byte(v))
				} else {
					b.WriteByte(e)
				}
			}
			lx.pos++
		default:
			b.WriteByte(c)
			lx.pos++
		}
	}
	return token{}, fmt.Errorf("jaas config: unterminated quoted value starting at offset %d", start)
}
