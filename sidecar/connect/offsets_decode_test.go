package connect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeAll runs the decoder over body read through r with a buffer of
// size bytes and returns what fn saw.
func decodeAll(r io.Reader, size int) ([]entry, error) {
	var got []entry
	d := offsetsDecoder{r: r, buf: make([]byte, size)}
	err := d.decode(func(c, tp string, p int32, o int64) error {
		got = append(got, entry{c, tp, p, o})
		return nil
	})
	return got, err
}

func TestDecodeSourceOffsetsMalformed(t *testing.T) {
	const one = `{"partition":{"cluster":"a","topic":"b","partition":1},"offset":{"offset":2}}`
	for _, tc := range []struct {
		name    string
		body    string
		want    []entry
		wantErr string // the whole message
		eof     bool   // the error is io.ErrUnexpectedEOF
	}{
		{name: "not an object", body: ` []`, wantErr: "want an object, found an array (at byte 1)"},
		{name: "not JSON", body: `offsets`, wantErr: "want an object, found character 'o' (at byte 0)"},
		{name: "only white space", body: " \n\t", wantErr: "no JSON value"},
		{name: "offsets not a list", body: `{"offsets":{}}`, wantErr: `want an array as "offsets", found an object (at byte 11)`},
		{name: "entry not an object", body: `{"offsets":[` + one + `,1]}`, want: []entry{{"a", "b", 1, 2}}, wantErr: `want an object as an entry of "offsets", found a number (at byte 90)`},
		{name: "partition not an object", body: `{"offsets":[{"partition":"p"}]}`, wantErr: `want an object as "partition", found a string (at byte 25)`},
		{name: "offset not an object", body: `{"offsets":[{"offset":[]}]}`, wantErr: `want an object as "offset", found an array (at byte 22)`},
		{name: "missing comma", body: `{"offsets":[` + one + ` ` + one + `]}`, want: []entry{{"a", "b", 1, 2}}, wantErr: `want ',' or ']' after an entry of "offsets", found an object (at byte 90)`},
		{name: "trailing comma", body: `{"offsets":[` + one + `,]}`, want: []entry{{"a", "b", 1, 2}}, wantErr: `want an object as an entry of "offsets", found character ']' (at byte 90)`},
		{name: "missing colon", body: `{"offsets" []}`, wantErr: `want ':' after a key, found an array (at byte 11)`},
		{name: "key not a string", body: `{offsets:[]}`, wantErr: `want a key of the answer, found character 'o' (at byte 1)`},
		{name: "trailing data", body: `{"offsets":[]} {}`, wantErr: "want the end of the answer after the top-level value, found an object (at byte 15)"},
		{name: "leading zero", body: `{"x":01}`, wantErr: "want ',' or '}' after a value in an object, found a number (at byte 6)"},
		{name: "fraction without digits", body: `{"x":1.}`, wantErr: "want a digit in a number, found character '}' (at byte 7)"},
		{name: "bad literal", body: `{"x":nul}`, wantErr: `invalid character '}' in null (at byte 8)`},
		{name: "control character", body: "{\"x\":\"a\nb\"}", wantErr: `control character '\n' in a string (at byte 7)`},
		{name: "bad escape", body: `{"x":"\x"}`, wantErr: `invalid escape \x in a string (at byte 7)`},
		{name: "bad unicode escape", body: `{"x":"\u12g4"}`, wantErr: `invalid character 'g' in a \u escape (at byte 10)`},
		{name: "too deep", body: `{"x":` + strings.Repeat("[", maxDepth+1), wantErr: fmt.Sprintf("arrays and objects nested more than %d deep (at byte %d)", maxDepth, 5+maxDepth)},
		{name: "unclosed array", body: `{"x":[1,2`, wantErr: "the answer ends early: want ',' or ']' after a value in an array (at byte 9)", eof: true},
		{name: "truncated entry", body: `{"offsets":[` + one + `,{"part`, want: []entry{{"a", "b", 1, 2}}, wantErr: "the answer ends early: want the rest of a string (at byte 96)", eof: true},
		{name: "truncated number", body: `{"offsets":[{"offset":{"offset":-`, wantErr: "the answer ends early: want a digit (at byte 33)", eof: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{1, 64 << 10} {
				got, err := decodeAll(iotest.OneByteReader(strings.NewReader(tc.body)), size)
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("buffer %d: err = %v, want %q", size, err, tc.wantErr)
				}
				if errors.Is(err, io.ErrUnexpectedEOF) != tc.eof {
					t.Errorf("buffer %d: errors.Is(err, io.ErrUnexpectedEOF) = %t, want %t", size, !tc.eof, tc.eof)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("buffer %d: entries = %v, want %v", size, got, tc.want)
				}
			}
			// The decoder encoding/json's refuses it as well.
			if err := refDecodeSourceOffsets(json.NewDecoder(strings.NewReader(tc.body)), func(string, string, int32, int64) error { return nil }); err == nil {
				t.Errorf("encoding/json accepts %q", tc.body)
			}
		})
	}
}

func TestDecodeSourceOffsetsReadError(t *testing.T) {
	broken := errors.New("connection reset")
	for _, body := range []string{"", " ", `{"offsets":[`, `{"offsets":[]}`} {
		r := io.MultiReader(strings.NewReader(body), iotest.ErrReader(broken))
		if _, err := decodeAll(r, 64<<10); err != broken {
			t.Errorf("%q then a read error: err = %v, want the read error as is", body, err)
		}
	}
}

// TestDecodeSourceOffsetsCallbackError checks that fn's error ends the
// read at once.
func TestDecodeSourceOffsetsCallbackError(t *testing.T) {
	stop := errors.New("stop")
	body := `{"offsets":[{"partition":{"cluster":"a","topic":"b","partition":1},"offset":{"offset":2}},{"partition":{"cluster":"a","topic":"b","partition":2},"offset":{"offset":3}},!`
	calls := 0
	err := decodeSourceOffsets(strings.NewReader(body), func(string, string, int32, int64) error {
		calls++
		return stop
	})
	var ce *callbackError
	if !errors.As(err, &ce) || ce.err != stop || calls != 1 {
		t.Errorf("err = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

// FuzzDecodeSourceOffsets holds the decoder to the encoding/json one it
// replaces: on any input both yield the same entries, and both fail or
// both succeed. It also reads each input one byte at a time through a
// one-byte buffer, so that every token spans reads and grows the buffer,
// and wants exactly the same outcome.
func FuzzDecodeSourceOffsets(f *testing.F) {
	fixture, err := os.ReadFile("testdata/mm2-source-offsets.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(fixture),
		``, ` `, `null`, `null x`, `{}`, `[]`, `"s"`, `1`, `{"offsets":null}`, `{"offsets":[]} `,
		`{"offsets":[{"partition":{"cluster":"s","topic":"t","partition":0},"offset":{"offset":42}}]}`,
		`{"OFFSETS":[{"Partition":{"CLUSTER":"s","Topic":"t","partitioN":0},"offSet":{"OFFSET":42}}]}`,
		`{"offſets":[{"partition":{"cluſter":"s","topic":"t","partition":0},"offset":{"offset":1}}]}`,
		`{"\u006ffsets":[{"p\u0061rtition":{"cluster":"s\u00e9","topic":"\ud83d\ude00","partition":0},"offset":{"offset":1}}]}`,
		`{"offsets":[{"partition":{"cluster":"s"},"partition":{"topic":"t"},"partition":null,"partition":{"partition":1},"offset":{"offset":1},"offset":null}]}`,
		`{"offsets":[{"partition":{"cluster":"s","topic":"t","partition":1,"cluster":5},"offset":{"offset":1}}]}`,
		`{"offsets":[{"partition":{"cluster":"s","topic":"t","partition":2},"offset":{"offset":1}}],"offsets":[{"partition":{"cluster":"s","topic":"t","partition":3},"offset":{"offset":1}}]}`,
		`{"offsets":[{"partition":{"cluster":"s","topic":"t","partition":1e2},"offset":{"offset":-0.0}},{"partition":{"cluster":"s","topic":"t","partition":2147483648},"offset":{"offset":9223372036854775807}},{"partition":{"cluster":"s","topic":"t","partition":-2147483648},"offset":{"offset":9223372036854775808}},{"partition":{"cluster":"s","topic":"t","partition":1},"offset":{"offset":123456789012345678}},{"partition":{"cluster":"s","topic":"t","partition":1},"offset":{"offset":1E400}}]}`,
		"{\"offsets\":[{\"partition\":{\"cluster\":\"s\xff\",\"topic\":\"t\\/\\\"\",\"partition\":0},\"offset\":{\"offset\":1}}]}",
		`{"offsets":[null,{"partition":null,"offset":{"offset":1}},{"x":[{"y":[true,false,null,"z",-1.5e+3]}],"partition":{"cluster":"s","topic":"t","partition":0,"extra":{}},"offset":{"offset":1,"more":[]}}]}`,
		`{"offsets":[{"partition":{"cluster":"s","topic":"t","partition":0},"offset":{"offset":1}},` + strings.Repeat("[", 40),
		`{"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`,
		`{"offsets":[{"x":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}]}`,
		`{"offsets":[{"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want []entry
		refErr := refDecodeSourceOffsets(json.NewDecoder(bytes.NewReader(body)), func(c, tp string, p int32, o int64) error {
			want = append(want, entry{c, tp, p, o})
			return nil
		})
		got, err := decodeAll(bytes.NewReader(body), 64<<10)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("err = %v, encoding/json's = %v", err, refErr)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("entries = %v, encoding/json's = %v", got, want)
		}
		if blank := len(bytes.TrimLeft(body, " \t\r\n")) == 0; errors.Is(err, errNoValue) != blank {
			t.Fatalf("err = %v for an answer that is blank: %t", err, blank)
		}
		slow, slowErr := decodeAll(iotest.OneByteReader(bytes.NewReader(body)), 1)
		if fmt.Sprint(slowErr) != fmt.Sprint(err) || !slices.Equal(slow, got) {
			t.Fatalf("one byte at a time: %v, %v; at once: %v, %v", slow, slowErr, got, err)
		}
	})
}

// BenchmarkDecodeSourceOffsets decodes the same 100,000 MM2 source
// offsets (1,000 topics × 100 partitions, as connecttest and Connect
// write them) from memory with the encoding/json decoder it replaces, the
// baseline, and with decodeSourceOffsets.
func BenchmarkDecodeSourceOffsets(b *testing.B) {
	var body bytes.Buffer
	body.WriteString(`{"offsets":[`)
	for i := range 1000 {
		for p := range 100 {
			if i+p > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, `{"partition":{"cluster":"src","partition":%d,"topic":"topic-%04d"},"offset":{"offset":%d}}`, p, i, i*p)
		}
	}
	body.WriteString(`]}`)
	raw := body.Bytes()
	b.Logf("answer of %.1f MB", float64(len(raw))/(1<<20))
	for _, bc := range []struct {
		name   string
		decode func(io.Reader, func(string, string, int32, int64) error) error
	}{
		{"decoder=encoding-json", func(r io.Reader, fn func(string, string, int32, int64) error) error {
			return refDecodeSourceOffsets(json.NewDecoder(r), fn)
		}},
		{"decoder=offsets", decodeSourceOffsets},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if err := bc.decode(bytes.NewReader(raw), func(string, string, int32, int64) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
				if n != 100_000 {
					b.Fatalf("decoded %d offsets, want 100000", n)
				}
			}
		})
	}
}
