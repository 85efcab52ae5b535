package javaconfig

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/magiconair/properties"
)

// Properties is what a .properties file holds: property name to value.
// Comments and the order of the source file are not kept; rendering sorts
// by name.
type Properties map[string]string

var (
	// Java's \uXXXX escapes are UTF-16 code units, so a character outside
	// the Basic Multilingual Plane arrives as a surrogate pair. The parser
	// library decodes each half alone and would turn both into U+FFFD; the
	// pair is joined here first. The leading run of backslashes decides
	// whether the "\u" is an escape at all (an odd run) or a literal
	// backslash followed by "u" (an even run).
	surrogatePair = regexp.MustCompile(`(\\+)u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})`)
	loneSurrogate = regexp.MustCompile(`(\\+)u[dD][89a-fA-F][0-9a-fA-F]{2}`)
)

// ParseProperties reads Java .properties text the way java.util.Properties
// does: "=", ":" or whitespace between key and value, "#" and "!" comments,
// backslash line continuations, \t \n \r \f and \uXXXX escapes, and an
// unknown escape standing for the character itself. Expansion of ${...} is
// disabled: references such as ${env:VAR} belong to Connect's config
// providers and pass through untouched.
//
// Input that is valid UTF-8 is read as UTF-8 (a leading byte-order mark is
// dropped); anything else is read as ISO-8859-1, the encoding of
// Properties.load(InputStream). name identifies the input in errors.
func ParseProperties(name string, b []byte) (Properties, error) {
	var text string
	if utf8.Valid(b) {
		text = string(bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF}))
	} else {
		runes := make([]rune, len(b))
		for i, c := range b {
			runes[i] = rune(c)
		}
		text = string(runes)
	}
	// A lone CR ends a line in Java just as CRLF does, and a raw CR can
	// never be part of a value, so normalising is lossless. The library
	// would otherwise end a continued value at the LF of a CRLF.
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")

	text = surrogatePair.ReplaceAllStringFunc(text, func(m string) string {
		sub := surrogatePair.FindStringSubmatch(m)
		run := sub[1]
		if len(run)%2 == 0 {
			return m
		}
		var hi, lo uint16
		fmt.Sscanf(sub[2], "%x", &hi)
		fmt.Sscanf(sub[3], "%x", &lo)
		return run[:len(run)-1] + string(utf16.DecodeRune(rune(hi), rune(lo)))
	})
	for _, loc := range loneSurrogate.FindAllStringSubmatchIndex(text, -1) {
		if (loc[3]-loc[2])%2 == 1 {
			return nil, fmt.Errorf("%s: line %d: unpaired UTF-16 surrogate escape %q", name, 1+strings.Count(text[:loc[0]], "\n"), text[loc[3]-1:loc[1]])
		}
	}

	loader := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	p, err := loader.LoadBytes([]byte(text))
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "properties: ")
		msg = strings.Replace(msg, "Line ", "line ", 1)
		return nil, fmt.Errorf("%s: %s", name, oneLine(msg))
	}
	out := make(Properties, p.Len())
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[k] = v
	}
	return out, nil
}

// checkKey refuses keys the parser library reads differently from Java: a
// backslash line continuation inside a key becomes a newline in the key
// there but joins the lines in Java. No Connect setting contains a control
// character, so refusing them loses nothing.
func checkKey(k string) error {
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("key %q: control character in a key (a line continuation inside a key is not supported)", k)
		}
	}
	return nil
}

// Render writes the properties sorted by key, escaped as Java's
// Properties.store(OutputStream) escapes them: ASCII only, everything else
// as \uXXXX, so that the worker reads exactly these values whichever
// encoding it assumes. The header lines are written as comments and must
// not change between runs, or the file would never be byte-identical.
func (p Properties) Render(header ...string) []byte {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, h := range header {
		b.WriteString("# ")
		b.WriteString(escapeJava(oneLine(h), false, false))
		b.WriteByte('\n')
	}
	for _, k := range keys {
		b.WriteString(escapeJava(k, true, true))
		b.WriteByte('=')
		b.WriteString(escapeJava(p[k], false, true))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// escapeJava mirrors Properties.saveConvert with escUnicode set. Keys escape
// every space (a space ends a key); values only a leading one. In comments
// (special false) only non-ASCII is escaped.
func escapeJava(s string, key, special bool) string {
	var b strings.Builder
	first := true
	for _, r := range s {
		switch {
		case !special && r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r == '\\':
			b.WriteString(`\\`)
		case r > '=' && r < 0x7f:
			b.WriteRune(r)
		case r == ' ':
			if first || key {
				b.WriteString(`\ `)
			} else {
				b.WriteByte(' ')
			}
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '=' || r == ':' || r == '#' || r == '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			if r > 0xFFFF {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04X\u%04X`, hi, lo)
			} else {
				fmt.Fprintf(&b, `\u%04X`, r)
			}
		default:
			b.WriteRune(r)
		}
		first = false
	}
	return b.String()
}

// oneLine keeps a message on one line so that every problem is one line
// of output.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
