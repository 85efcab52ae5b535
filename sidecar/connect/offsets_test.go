package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
)

const mm2Source = "org.apache.kafka.connect.mirror.MirrorSourceConnector"

// entry is one MM2 source offset as SourceOffsets yields it.
type entry struct {
	Cluster, Topic string
	Partition      int32
	Offset         int64
}

func newTestClient(t testing.TB, url string) *Client {
	t.Helper()
	c, err := New(Config{URL: url, Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newMM2 starts a Connect cluster with one MM2 source connector "msc"
// holding offs.
func newMM2(t testing.TB, offs []connecttest.Offset) (*connecttest.Cluster, *Client) {
	t.Helper()
	cc := connecttest.NewCluster(t, 1)
	cfg := map[string]string{
		"connector.class":                  mm2Source,
		"source.cluster.alias":             "src",
		"target.cluster.alias":             "tgt",
		"source.cluster.bootstrap.servers": "127.0.0.1:1",
		"target.cluster.bootstrap.servers": "127.0.0.1:2",
	}
	if err := cc.Put("msc", cfg, ""); err != nil {
		t.Fatal(err)
	}
	if offs != nil {
		if err := cc.SetOffsets("msc", offs); err != nil {
			t.Fatal(err)
		}
	}
	return cc, newTestClient(t, cc.URL())
}

func collect(ctx context.Context, c *Client, name string) ([]entry, error) {
	var got []entry
	err := c.SourceOffsets(ctx, name, func(cluster, topic string, p int32, off int64) error {
		got = append(got, entry{cluster, topic, p, off})
		return nil
	})
	return got, err
}

// fromMaps reads MM2 entries out of Offsets' maps the way the lag
// measurement did before SourceOffsets: the reference the streaming path
// must agree with.
func fromMaps(offs []Offset) []entry {
	var out []entry
	for _, o := range offs {
		cluster, ok1 := o.Partition["cluster"].(string)
		topic, ok2 := o.Partition["topic"].(string)
		p, ok3 := wholeNumber(o.Partition["partition"])
		off, ok4 := wholeNumber(o.Offset["offset"])
		if ok1 && ok2 && ok3 && ok4 && p >= -1<<31 && p < 1<<31 {
			out = append(out, entry{cluster, topic, int32(p), off})
		}
	}
	return out
}

func wholeNumber(v any) (int64, bool) {
	f, ok := v.(float64)
	return int64(f), ok && f == float64(int64(f))
}

func num(s string) json.Number { return json.Number(s) }

func mm2Offset(cluster any, topic any, partition any, offset any) connecttest.Offset {
	o := connecttest.Offset{Partition: map[string]any{"cluster": cluster, "topic": topic, "partition": partition}, Offset: map[string]any{}}
	if offset != nil {
		o.Offset["offset"] = offset
	}
	return o
}

func TestSourceOffsets(t *testing.T) {
	for _, tc := range []struct {
		name string
		offs []connecttest.Offset
		want []entry
	}{
		{"none committed", nil, nil},
		{
			"mm2 entries in order",
			[]connecttest.Offset{mm2Offset("src", "orders", 0, 41), mm2Offset("src", "orders", 1, 0), mm2Offset("other", "payments", 7, 1<<40)},
			[]entry{{"src", "orders", 0, 41}, {"src", "orders", 1, 0}, {"other", "payments", 7, 1 << 40}},
		},
		{
			"whole numbers in any notation",
			[]connecttest.Offset{mm2Offset("src", "t", num("1e1"), num("2.0")), mm2Offset("src", "t", num("-0"), num("-1"))},
			[]entry{{"src", "t", 10, 2}, {"src", "t", 0, -1}},
		},
		{
			"other shapes skipped",
			[]connecttest.Offset{
				mm2Offset("src", "t", "0", 1),               // partition as a string
				mm2Offset("src", "t", 0, 1.5),               // fraction
				mm2Offset("src", "t", 1, nil),               // no offset
				mm2Offset(5, "t", 2, 1),                     // cluster not a string
				mm2Offset("src", []any{"t"}, 3, 1),          // topic not a string
				mm2Offset("src", "t", num("2147483648"), 1), // beyond int32
				mm2Offset("src", "t", 4, 4),
			},
			[]entry{{"src", "t", 4, 4}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newMM2(t, tc.offs)
			ctx := context.Background()
			got, err := collect(ctx, c, "msc")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("SourceOffsets = %v, want %v", got, tc.want)
			}
			offs, err := c.Offsets(ctx, "msc")
			if err != nil {
				t.Fatal(err)
			}
			if ref := fromMaps(offs); !slices.Equal(got, ref) {
				t.Errorf("SourceOffsets = %v, Offsets read as maps = %v", got, ref)
			}
		})
	}
}

func TestSourceOffsetsConnectErrors(t *testing.T) {
	stop := errors.New("stop")
	for _, tc := range []struct {
		name  string
		setup func(*connecttest.Cluster)
		conn  string
		fn    func(string, string, int32, int64) error
		check func(*testing.T, error)
	}{
		{
			name: "unknown connector",
			conn: "nope",
			check: func(t *testing.T, err error) {
				var e *Error
				if !errors.As(err, &e) || !IsNotFound(err) || e.Message != "Connector nope not found" || e.Path != "/connectors/nope/offsets" {
					t.Errorf("err = %#v, want a 404 *Error with Connect's message", err)
				}
			},
		},
		{
			name:  "server error",
			setup: func(cc *connecttest.Cluster) { cc.ServerErrors(1, http.MethodGet, "/connectors/msc/offsets", "") },
			check: func(t *testing.T, err error) {
				var e *Error
				if !errors.As(err, &e) || e.Status != 500 || e.Message != connecttest.MsgTimedOut || !IsRetryable(err) {
					t.Errorf("err = %#v, want a retryable 500 *Error with Connect's message", err)
				}
			},
		},
		{
			name:  "worker down",
			setup: func(cc *connecttest.Cluster) { cc.Workers()[0].Down() },
			check: func(t *testing.T, err error) {
				var e *Error
				if !errors.As(err, &e) || e.Status != 0 || e.Err == nil || !IsRetryable(err) {
					t.Errorf("err = %#v, want a retryable *Error without answer", err)
				}
			},
		},
		{
			name: "callback error ends the read",
			fn: func(string, string, int32, int64) error {
				return stop
			},
			check: func(t *testing.T, err error) {
				if err != stop {
					t.Errorf("err = %v, want the callback's error as is", err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, c := newMM2(t, []connecttest.Offset{mm2Offset("src", "t", 0, 1), mm2Offset("src", "t", 1, 1)})
			if tc.setup != nil {
				tc.setup(cc)
			}
			conn := tc.conn
			if conn == "" {
				conn = "msc"
			}
			calls := 0
			err := c.SourceOffsets(context.Background(), conn, func(cl, tp string, p int32, o int64) error {
				calls++
				if tc.fn != nil {
					return tc.fn(cl, tp, p, o)
				}
				return nil
			})
			tc.check(t, err)
			if tc.fn != nil && calls != 1 {
				t.Errorf("callback called %d times after returning an error, want 1", calls)
			}
		})
	}
}

// TestSourceOffsetsAnswers covers answers connecttest does not give: a
// fixture in Connect's format with entries of other shapes, and broken
// bodies.
func TestSourceOffsetsAnswers(t *testing.T) {
	fixture, err := os.ReadFile("testdata/mm2-source-offsets.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		body    string
		short   bool // close the connection before the announced length
		want    []entry
		wantErr string
	}{
		{name: "fixture", body: string(fixture), want: []entry{{"src", "orders", 0, 41}, {"src", "orders", 1, 1000}, {"other", "payments", 0, -1}}},
		{name: "empty body", body: ""},
		{name: "null", body: "null"},
		{name: "null offsets", body: `{"offsets":null}`},
		{name: "outer keys match in any case", body: `{"Offsets":[{"Partition":{"cluster":"a","topic":"b","partition":1},"OFFSET":{"offset":2}}]}`, want: []entry{{"a", "b", 1, 2}}},
		{name: "escaped strings", body: `{"offsets":[{"partition":{"cluster":"s\u0072c","topic":"a\/b","partition":1},"offset":{"offset":2}},{"partition":{"cluster":"src","topic":"a/b","partition":2},"offset":{"offset":3}}]}`, want: []entry{{"src", "a/b", 1, 2}, {"src", "a/b", 2, 3}}},
		{name: "invalid utf-8 replaced", body: "{\"offsets\":[{\"partition\":{\"cluster\":\"src\",\"topic\":\"t\xff\",\"partition\":1},\"offset\":{\"offset\":2}}]}", want: []entry{{"src", "t\ufffd", 1, 2}}},
		{name: "only whitespace", body: " \n", wantErr: "GET /connectors/msc/offsets: decode answer"},
		{name: "truncated", body: `{"offsets":[{"partition":{"cluster":"a","topic":"b","partition":1},"offset":{"offset":2}},{"part`, want: []entry{{"a", "b", 1, 2}}, wantErr: "decode answer"},
		{name: "entry not an object", body: `{"offsets":[1]}`, wantErr: "decode answer"},
		{name: "partition not an object", body: `{"offsets":[{"partition":"p","offset":{}}]}`, wantErr: "decode answer"},
		{name: "offsets not a list", body: `{"offsets":{}}`, wantErr: "decode answer"},
		{name: "not an object", body: `[]`, wantErr: "decode answer"},
		{name: "trailing data", body: `{"offsets":[]} {}`, wantErr: "decode answer"},
		{name: "connection lost", body: `{"offsets":[`, short: true, wantErr: "GET /connectors/msc/offsets: HTTP 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/connectors/msc/offsets" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				if tc.short {
					w.Header().Set("Content-Length", fmt.Sprint(len(tc.body)+100))
				}
				_, _ = w.Write([]byte(tc.body))
				if tc.short {
					w.(http.Flusher).Flush()
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.(*net.TCPConn).SetLinger(0)
					conn.Close()
				}
			}))
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL)
			got, err := collect(context.Background(), c, "msc")
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if tc.short {
				var e *Error
				if !errors.As(err, &e) || e.Status != http.StatusOK || e.Err == nil {
					t.Errorf("err = %#v, want an *Error with status 200 and the read error", err)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("entries = %v, want %v", got, tc.want)
			}
			if tc.short || tc.wantErr != "" {
				return
			}
			offs, err := c.Offsets(context.Background(), "msc")
			if err != nil {
				t.Fatalf("Offsets: %v", err)
			}
			if ref := fromMaps(offs); !slices.Equal(got, ref) {
				t.Errorf("SourceOffsets = %v, Offsets read as maps = %v", got, ref)
			}
		})
	}
}

// FuzzSourceOffsets checks the streaming decoder against Offsets'
// json.Unmarshal into maps: every body that decodes into maps decodes as
// a stream to the same entries, and every syntax error is an error. The
// streaming decoder is knowingly more lenient in three corners no Connect
// worker produces, which the target skips: inner keys that match only
// case-insensitively, the outer "offsets" key given twice, and numbers
// beyond float64's range or exact integers.
func FuzzSourceOffsets(f *testing.F) {
	fixture, err := os.ReadFile("testdata/mm2-source-offsets.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	f.Add([]byte(`{"offsets":[{"partition":{"cluster":"s","topic":"t","partition":0},"offset":{"offset":42}}]}`))
	f.Add([]byte(`{"offsets":[{"partition":{"cluster":"s\u0000","topic":"t\/\"x","partition":1},"offset":{"offset":2}},{"partition":{"cluster":"s\u0000","topic":"t\xff","partition":1},"offset":{"offset":2}}]}`))
	f.Add([]byte(`{"offsets":[null,{"partition":null,"offset":{"offset":1e2}}]} `))
	f.Add([]byte(`{"offsets":[{"partition":{"cluster":"s","topic":"t","partition":"0"},"offset":{"offset":-0.0}}], "x": [1,2]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got []entry
		gotErr := decodeSourceOffsets(bytes.NewReader(body), func(c, tp string, p int32, o int64) error {
			got = append(got, entry{c, tp, p, o})
			return nil
		})
		var ref struct {
			Offsets []Offset `json:"offsets"`
		}
		refErr := json.Unmarshal(body, &ref)
		if refErr != nil {
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			if (errors.As(refErr, &se) || errors.As(refErr, &te) && !strings.HasPrefix(te.Value, "number ")) && gotErr == nil {
				t.Fatalf("Unmarshal: %v; streaming decode accepted it: %v", refErr, got)
			}
			return
		}
		if len(body) == 0 || skipCorners(t, body, ref.Offsets) {
			return
		}
		if gotErr != nil {
			t.Fatalf("Unmarshal accepted the body; streaming decode: %v", gotErr)
		}
		if want := fromMaps(ref.Offsets); !slices.Equal(got, want) {
			t.Fatalf("streaming decode = %v, Unmarshal into maps = %v", got, want)
		}
	})
}

// skipCorners reports bodies in the corners FuzzSourceOffsets leaves out.
func skipCorners(t *testing.T, body []byte, offs []Offset) bool {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, _ := dec.Token(); tok == json.Delim('{') {
		n := 0
		for dec.More() {
			k, _ := dec.Token()
			if s, _ := k.(string); strings.EqualFold(s, "offsets") {
				n++
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return true
			}
		}
		if n > 1 {
			return true
		}
	}
	for _, o := range offs {
		for m, keys := range map[*map[string]any][]string{&o.Partition: {"cluster", "topic", "partition"}, &o.Offset: {"offset"}} {
			for k, v := range *m {
				for _, want := range keys {
					if k != want && strings.EqualFold(k, want) {
						return true
					}
				}
				if f, ok := v.(float64); ok && (f > 1<<53 || f < -1<<53) {
					return true
				}
			}
		}
	}
	return false
}

// BenchmarkMM2Offsets reads the same 100,000 MM2 source offsets (1,000
// topics × 100 partitions, about 9 MB of JSON) both ways: "maps" is
// Offsets, the whole body read and decoded into maps, the baseline;
// "stream" is SourceOffsets. The body is taken once from connecttest and
// then served as fixed bytes, so that B/op and peak-heap-MB (the highest
// heap sampled while the iterations ran) are the client's.
func BenchmarkMM2Offsets(b *testing.B) {
	offs := make([]connecttest.Offset, 0, 100_000)
	for i := range 1000 {
		for p := range 100 {
			offs = append(offs, mm2Offset("src", fmt.Sprintf("topic-%04d", i), p, int64(i*p)))
		}
	}
	cc, _ := newMM2(b, offs)
	resp, err := http.Get(cc.URL() + "/connectors/msc/offsets")
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET offsets: %d %v", resp.StatusCode, err)
	}
	offs = nil
	if err := cc.SetOffsets("msc", nil); err != nil { // release them
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	c := newTestClient(b, srv.URL)
	b.Logf("answer of %.1f MB", float64(len(body))/(1<<20))
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		read func() (int, error)
	}{
		{"decode=maps", func() (int, error) {
			offs, err := c.Offsets(ctx, "msc")
			return len(fromMaps(offs)), err
		}},
		{"decode=stream", func() (int, error) {
			n := 0
			err := c.SourceOffsets(ctx, "msc", func(string, string, int32, int64) error { n++; return nil })
			return n, err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			runtime.GC()
			peak := startPeakHeap()
			b.ReportAllocs()
			for b.Loop() {
				n, err := bc.read()
				if err != nil {
					b.Fatal(err)
				}
				if n != 100_000 {
					b.Fatalf("read %d offsets, want 100000", n)
				}
			}
			b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
		})
	}
}

// startPeakHeap samples the heap's objects (live and not yet swept) every
// 100µs until the returned function is called, which gives the highest
// value seen. The connecttest server shares the process, so the figure
// includes its answer buffers; B/op counts only the client's allocations
// in this goroutine's code path plus the server's, equally for both cases.
func startPeakHeap() func() uint64 {
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var high uint64
		for {
			metrics.Read(s)
			high = max(high, s[0].Value.Uint64())
			select {
			case <-stop:
				done <- high
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}
