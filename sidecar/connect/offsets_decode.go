package connect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeSourceOffsets reads Connect's answer to GET /connectors/{name}/offsets
// from r, {"offsets": [entry, ...]}, and calls fn with each MM2 entry as
// soon as it is complete. It is written for exactly that document: where
// encoding/json spent most of a 100,000-partition measurement's decoding
// time in reflection and in rescanning each entry, this reads every byte
// once, keeps only the entry being read, and allocates a cluster or topic
// name only when it differs from the previous entry's.
//
// It accepts and yields what decoding each entry with encoding/json into
// {"partition": {"cluster", "topic", "partition"}, "offset": {"offset"}}
// does (FuzzDecodeSourceOffsets holds it to that): keys match
// case-insensitively, a repeated key merges into or overwrites the
// earlier value, other keys are skipped, a null entry is skipped, an entry
// of another shape (a missing key, a string where a number belongs, a
// fraction) is skipped; an entry, "partition" or "offset" that is neither
// an object nor null is an error, and so is anything after the top-level
// value. An answer with no value at all gives errNoValue. fn's error is
// returned as a *callbackError.
func decodeSourceOffsets(r io.Reader, fn func(cluster, topic string, partition int32, offset int64) error) error {
	d := offsetsDecoder{r: r, buf: make([]byte, 64<<10)}
	return d.decode(fn)
}

// decode is decodeSourceOffsets reading through the buffer d was given.
func (d *offsetsDecoder) decode(fn func(cluster, topic string, partition int32, offset int64) error) error {
	c, ok := d.next()
	if !ok {
		if d.rerr != io.EOF {
			return d.rerr
		}
		return errNoValue
	}
	switch c {
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
	case '{':
		if err := d.outer(fn); err != nil {
			return err
		}
	default:
		return d.unexpected("an object")
	}
	if _, ok := d.next(); ok {
		return d.unexpected("the end of the answer after the top-level value")
	}
	if d.rerr != io.EOF {
		return d.rerr
	}
	return nil
}

// errNoValue is an answer of nothing but white space, or nothing at all.
var errNoValue = errors.New("no JSON value")

// maxDepth is how deeply encoding/json lets arrays and objects nest,
// counted from the value it decodes: here an entry, or a skipped value
// of the top-level object.
const maxDepth = 10000

// decodeError is an answer that is not JSON, or not of the offsets'
// shape, with the byte where that shows.
type decodeError struct {
	offset int64
	msg    string
	err    error // io.ErrUnexpectedEOF when the answer ends early
}

func (e *decodeError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.msg, e.offset) }

func (e *decodeError) Unwrap() error { return e.err }

// offsetsDecoder reads the answer through buf. Scanning a string, number
// or literal keeps its bytes from pos on in data, moving them to the front
// of buf (and growing buf when they fill it) as more is read.
type offsetsDecoder struct {
	r    io.Reader
	buf  []byte
	data []byte // buf up to the end of what was read into it
	pos  int    // the next byte of data to read
	base int64  // offset in the answer of buf[0]
	rerr error  // the reader's error, io.EOF at the end, once it gave one

	stack []byte // '{' or '[' for each container open in skip

	// The previous entry's names, kept for the next entry to reuse.
	cluster, topic string
}

// fill reads more into buf, keeping data[pos:]; it reports false when
// nothing more can be read.
func (d *offsetsDecoder) fill() bool {
	if d.rerr != nil {
		return false
	}
	end := len(d.data)
	if d.pos > 0 {
		end = copy(d.buf, d.data[d.pos:])
		d.base += int64(d.pos)
		d.pos = 0
	}
	if end == len(d.buf) {
		d.buf = append(d.buf, make([]byte, len(d.buf))...)
	}
	for range 100 {
		n, err := d.r.Read(d.buf[end:])
		end += n
		d.data = d.buf[:end]
		if err != nil {
			d.rerr = err
		}
		if n > 0 || err != nil {
			return n > 0
		}
	}
	d.rerr = io.ErrNoProgress
	return false
}

// next skips white space and returns the next byte, without reading
// past it; ok is false at the end of the answer.
func (d *offsetsDecoder) next() (c byte, ok bool) {
	if d.pos < len(d.data) && d.data[d.pos] > ' ' {
		return d.data[d.pos], true
	}
	return d.nextMore()
}

func (d *offsetsDecoder) nextMore() (c byte, ok bool) {
	for {
		for d.pos < len(d.data) {
			switch c := d.data[d.pos]; c {
			case ' ', '\t', '\n', '\r':
				d.pos++
			default:
				return c, true
			}
		}
		if !d.fill() {
			return 0, false
		}
	}
}

// at returns the byte at *i, an index into data at or after pos, reading
// more as needed and updating *i when the bytes move; ok is false at the
// end of the answer.
func (d *offsetsDecoder) at(i *int) (c byte, ok bool) {
	if *i < len(d.data) {
		return d.data[*i], true
	}
	return d.atMore(i)
}

func (d *offsetsDecoder) atMore(i *int) (c byte, ok bool) {
	for *i >= len(d.data) {
		k := *i - d.pos
		more := d.fill()
		*i = d.pos + k
		if !more {
			return 0, false
		}
	}
	return d.data[*i], true
}

// expect reads the byte c, after white space.
func (d *offsetsDecoder) expect(c byte, want string) error {
	if got, ok := d.next(); !ok || got != c {
		return d.unexpected(want)
	}
	d.pos++
	return nil
}

// unexpected is the error for what is at pos when want was due.
func (d *offsetsDecoder) unexpected(want string) error {
	if d.pos >= len(d.data) {
		return d.early(d.pos, want)
	}
	return d.errorAt(d.pos, "want %s, found %s", want, describe(d.data[d.pos]))
}

// early is the error for an answer that ends, or fails to be read, at
// index i while want was due.
func (d *offsetsDecoder) early(i int, want string) error {
	if d.rerr != nil && d.rerr != io.EOF {
		return d.rerr
	}
	return &decodeError{offset: d.base + int64(i), msg: "the answer ends early: want " + want, err: io.ErrUnexpectedEOF}
}

func (d *offsetsDecoder) errorAt(i int, format string, args ...any) error {
	return &decodeError{offset: d.base + int64(i), msg: fmt.Sprintf(format, args...)}
}

// describe names the value that starts with c, or the character.
func describe(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	}
	return fmt.Sprintf("character %q", c)
}

// outer reads the top-level object from its '{'.
func (d *offsetsDecoder) outer(fn func(string, string, int32, int64) error) error {
	return d.object("a key of the answer", outerKeys, func(field int) error {
		if field < 0 {
			return d.skip(0)
		}
		return d.list(fn)
	})
}

// The keys read, by the index object gives value.
var (
	outerKeys     = []string{"offsets"}
	entryKeys     = []string{"partition", "offset"}
	partitionKeys = []string{"cluster", "topic", "partition"}
	offsetKeys    = []string{"offset"}
)

// object reads an object from its '{'. For each key it calls value, to
// read the value that follows, with the index in keys of the name the
// key matches as encoding/json matches a struct field's (exactly or
// case-insensitively, after unquoting), or -1.
func (d *offsetsDecoder) object(what string, keys []string, value func(field int) error) error {
	d.pos++ // the '{'
	c, ok := d.next()
	if ok && c == '}' {
		d.pos++
		return nil
	}
	for {
		if !ok || c != '"' {
			return d.unexpected(what)
		}
		key, plain, err := d.str()
		if err != nil {
			return err
		}
		// Matched before reading on, which may move the key's bytes.
		field := -1
		for i, name := range keys {
			if keyIs(key, plain, name) {
				field = i
				break
			}
		}
		if err := d.expect(':', "':' after a key"); err != nil {
			return err
		}
		if err := value(field); err != nil {
			return err
		}
		if c, ok = d.next(); ok && c == '}' {
			d.pos++
			return nil
		}
		if !ok || c != ',' {
			return d.unexpected("',' or '}' after a value in an object")
		}
		d.pos++
		c, ok = d.next()
	}
}

// list reads the value of "offsets": null or an array of entries.
func (d *offsetsDecoder) list(fn func(string, string, int32, int64) error) error {
	c, ok := d.next()
	switch {
	case ok && c == 'n':
		return d.literal("null")
	case !ok || c != '[':
		return d.unexpected(`an array as "offsets"`)
	}
	d.pos++
	if c, ok = d.next(); ok && c == ']' {
		d.pos++
		return nil
	}
	for {
		if err := d.entry(fn); err != nil {
			return err
		}
		if c, ok = d.next(); ok && c == ']' {
			d.pos++
			return nil
		}
		if !ok || c != ',' {
			return d.unexpected(`',' or ']' after an entry of "offsets"`)
		}
		d.pos++
	}
}

// entry reads one entry and calls fn with it when it is an MM2 offset.
func (d *offsetsDecoder) entry(fn func(string, string, int32, int64) error) error {
	c, ok := d.next()
	switch {
	case ok && c == 'n':
		return d.literal("null")
	case !ok || c != '{':
		return d.unexpected("an object as an entry of \"offsets\"")
	}
	var cluster, topic jsonString
	var partition, offset jsonInt
	cluster.prev, topic.prev = d.cluster, d.topic
	err := d.object("a key of an entry", entryKeys, func(field int) error {
		switch field {
		case 0:
			return d.inner(`"partition"`, `a key of "partition"`, partitionKeys, func(field int) error {
				switch field {
				case 0:
					return d.stringValue(&cluster, 2)
				case 1:
					return d.stringValue(&topic, 2)
				case 2:
					return d.intValue(&partition, 2)
				}
				return d.skip(2)
			})
		case 1:
			return d.inner(`"offset"`, `a key of "offset"`, offsetKeys, func(field int) error {
				if field == 0 {
					return d.intValue(&offset, 2)
				}
				return d.skip(2)
			})
		}
		return d.skip(1)
	})
	if err != nil {
		return err
	}
	if cluster.ok {
		d.cluster = cluster.v
	}
	if topic.ok {
		d.topic = topic.v
	}
	if !cluster.ok || !topic.ok || !partition.ok || !offset.ok ||
		partition.v < math.MinInt32 || partition.v > math.MaxInt32 {
		return nil
	}
	if err := fn(cluster.v, topic.v, int32(partition.v), offset.v); err != nil {
		return &callbackError{err}
	}
	return nil
}

// inner reads the value of an entry's "partition" or "offset": null, which
// leaves what an earlier same key gave, or an object whose keys add to it.
// name and keyOf (`a key of name`) are constants: built here, they would
// cost two allocations an entry.
func (d *offsetsDecoder) inner(name, keyOf string, keys []string, value func(field int) error) error {
	c, ok := d.next()
	switch {
	case ok && c == 'n':
		return d.literal("null")
	case !ok || c != '{':
		return d.unexpected("an object as " + name)
	}
	return d.object(keyOf, keys, value)
}

// jsonString is a value that counts when it is a string. prev is a
// string to reuse when the value is the same.
type jsonString struct {
	v, prev string
	ok      bool
}

// stringValue reads a value into s; depth is the nesting around it.
func (d *offsetsDecoder) stringValue(s *jsonString, depth int) error {
	s.v, s.ok = "", false
	if c, ok := d.next(); !ok || c != '"' {
		return d.skip(depth)
	}
	q, plain, err := d.str()
	if err != nil {
		return err
	}
	s.ok = true
	switch raw := q[1 : len(q)-1]; {
	case !plain:
		// encoding/json's own unquoting: escapes, and U+FFFD for bytes
		// that are not UTF-8. The syntax was checked: it cannot fail.
		var v string
		err := json.Unmarshal(q, &v)
		s.v = v
		return err
	case string(raw) == s.prev:
		s.v = s.prev
	default:
		s.v = string(raw)
	}
	return nil
}

// jsonInt is a value that counts when it is a whole number that fits an
// int64, written as an integer or not (1e3 is 1000).
type jsonInt struct {
	v  int64
	ok bool
}

// intValue reads a value into n; depth is the nesting around it.
func (d *offsetsDecoder) intValue(n *jsonInt, depth int) error {
	*n = jsonInt{}
	if c, ok := d.next(); !ok || c != '-' && (c < '0' || c > '9') {
		return d.skip(depth)
	}
	lit, err := d.number()
	if err != nil {
		return err
	}
	*n = parseWhole(lit)
	return nil
}

// parseWhole reads a number literal as a whole int64.
func parseWhole(lit []byte) jsonInt {
	digits := lit
	if lit[0] == '-' {
		digits = lit[1:]
	}
	// Up to 18 digits with neither fraction nor exponent fit as they are.
	if len(digits) <= 18 {
		var v int64
		for _, c := range digits {
			if c < '0' || c > '9' {
				v = -1
				break
			}
			v = v*10 + int64(c-'0')
		}
		if v >= 0 {
			if lit[0] == '-' {
				v = -v
			}
			return jsonInt{v, true}
		}
	}
	s := string(lit)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return jsonInt{v, true}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err == nil && f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		return jsonInt{int64(f), true}
	}
	return jsonInt{}
}

// keyIs matches a quoted key against a name of ASCII letters.
func keyIs(quoted []byte, plain bool, name string) bool {
	raw := quoted[1 : len(quoted)-1]
	if plain || bytes.IndexByte(raw, '\\') < 0 {
		// Bytes that are not UTF-8 become U+FFFD when unquoted, which
		// folds to nothing in a name of ASCII letters either way.
		return bytes.EqualFold(raw, []byte(name))
	}
	var key string
	if json.Unmarshal(quoted, &key) != nil {
		return false
	}
	return strings.EqualFold(key, name)
}

// str reads the string at pos, checking its syntax, and returns it with
// its quotes, valid until the next read; plain tells that it has no
// escape and is valid UTF-8, so that its bytes are its value.
func (d *offsetsDecoder) str() (quoted []byte, plain bool, err error) {
	i := d.pos + 1
	escaped, high := false, false
	for {
		// Most bytes of a string need no more than a look.
		for i < len(d.data) && !strSpecial[d.data[i]] {
			i++
		}
		c, ok := d.at(&i)
		if !ok {
			return nil, false, d.early(i, "the rest of a string")
		}
		switch {
		case c == '"':
			quoted = d.data[d.pos : i+1]
			d.pos = i + 1
			return quoted, !escaped && (!high || utf8.Valid(quoted)), nil
		case c == '\\':
			escaped = true
			i++
			e, ok := d.at(&i)
			if !ok {
				return nil, false, d.early(i, "the rest of an escape")
			}
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					i++
					h, ok := d.at(&i)
					if !ok {
						return nil, false, d.early(i, "the rest of an escape")
					}
					if !isHex(h) {
						return nil, false, d.errorAt(i, "invalid character %q in a \\u escape", h)
					}
				}
			default:
				return nil, false, d.errorAt(i, "invalid escape \\%c in a string", e)
			}
		case c < 0x20:
			return nil, false, d.errorAt(i, "control character %q in a string", c)
		case c >= utf8.RuneSelf:
			high = true
		}
		i++
	}
}

// strSpecial marks the bytes str looks at twice: the closing quote, the
// escape, control characters and the bytes of non-ASCII characters.
var strSpecial = func() (t [256]bool) {
	for c := range t {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number reads the number at pos, checking its syntax, and returns its
// literal, valid until the next read.
func (d *offsetsDecoder) number() ([]byte, error) {
	i := d.pos
	c, _ := d.at(&i)
	digits := func() (byte, bool, error) {
		c, ok := d.at(&i)
		if !ok {
			return 0, false, d.early(i, "a digit")
		}
		if c < '0' || c > '9' {
			return 0, false, d.errorAt(i, "want a digit in a number, found %s", describe(c))
		}
		for {
			i++
			if c, ok = d.at(&i); !ok || c < '0' || c > '9' {
				return c, ok, nil
			}
		}
	}
	if c == '-' {
		i++
		var ok bool
		if c, ok = d.at(&i); !ok {
			return nil, d.early(i, "a digit")
		}
	}
	var ok bool
	var err error
	if c == '0' {
		i++
		c, ok = d.at(&i)
	} else if c, ok, err = digits(); err != nil {
		return nil, err
	}
	if ok && c == '.' {
		i++
		if c, ok, err = digits(); err != nil {
			return nil, err
		}
	}
	if ok && (c == 'e' || c == 'E') {
		i++
		if c, ok = d.at(&i); ok && (c == '+' || c == '-') {
			i++
		}
		if _, _, err = digits(); err != nil {
			return nil, err
		}
	}
	lit := d.data[d.pos:i]
	d.pos = i
	return lit, nil
}

// literal reads true, false or null at pos.
func (d *offsetsDecoder) literal(word string) error {
	i := d.pos
	for k := range len(word) {
		c, ok := d.at(&i)
		if !ok {
			return d.early(i, "the rest of "+word)
		}
		if c != word[k] {
			return d.errorAt(i, "invalid character %q in %s", c, word)
		}
		i++
	}
	d.pos = i
	return nil
}

// skip reads past one value, checking its syntax as encoding/json does;
// depth is the number of arrays and objects open around it, counted as
// encoding/json counts them against maxDepth.
func (d *offsetsDecoder) skip(depth int) error {
	d.stack = d.stack[:0]
	for {
		// A value.
		c, ok := d.next()
		if !ok {
			return d.early(d.pos, "a value")
		}
		switch {
		case c == '{' || c == '[':
			if depth+len(d.stack)+1 > maxDepth {
				return d.errorAt(d.pos, "arrays and objects nested more than %d deep", maxDepth)
			}
			d.pos++
			d.stack = append(d.stack, c)
			n, ok := d.next()
			if ok && (c == '{' && n == '}' || c == '[' && n == ']') {
				d.pos++
				d.stack = d.stack[:len(d.stack)-1]
				break
			}
			if c == '{' {
				if err := d.key(); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			if _, _, err := d.str(); err != nil {
				return err
			}
		case c == 't':
			if err := d.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := d.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := d.literal("null"); err != nil {
				return err
			}
		case c == '-' || '0' <= c && c <= '9':
			if _, err := d.number(); err != nil {
				return err
			}
		default:
			return d.unexpected("a value")
		}
		// After a value: close containers until one goes on.
		for {
			if len(d.stack) == 0 {
				return nil
			}
			top := d.stack[len(d.stack)-1]
			c, ok := d.next()
			if ok && c == ',' {
				d.pos++
				if top == '{' {
					if err := d.key(); err != nil {
						return err
					}
				}
				break
			}
			if !ok || top == '{' && c != '}' || top == '[' && c != ']' {
				if top == '{' {
					return d.unexpected("',' or '}' after a value in an object")
				}
				return d.unexpected("',' or ']' after a value in an array")
			}
			d.pos++
			d.stack = d.stack[:len(d.stack)-1]
		}
	}
}

// key reads a key and its colon in an object being skipped.
func (d *offsetsDecoder) key() error {
	if c, ok := d.next(); !ok || c != '"' {
		return d.unexpected("a key")
	}
	if _, _, err := d.str(); err != nil {
		return err
	}
	return d.expect(':', "':' after a key")
}
