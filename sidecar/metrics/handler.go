package metrics

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics: the JMX passthrough first, then the sidecar's
// own registry. The passthrough goes first so that connect_sidecar_jmx_up
// and the scrape duration describe this very rendering. When the exporter
// is down the response still carries every sidecar metric and jmx_up 0.
// jmx may be nil (no passthrough); log may be nil.
//
// Scrapes share renderings: one that arrives while a rendering is under way
// waits for it and is sent the same bytes. Memory and the load on the JMX
// exporter therefore stay those of one scrape however many scrapers come
// at once, and the answer is at most one rendering old.
func Handler(reg *Registry, jmx *JMX, log *slog.Logger) http.Handler {
	return &handler{reg: reg, jmx: jmx, log: log}
}

type handler struct {
	reg *Registry
	jmx *JMX
	log *slog.Logger

	mu       sync.Mutex
	cur      *rendering // under way; nil when none is
	sizeHint int        // the last rendering's size
}

// rendering is one exposition; body is set before done is closed.
type rendering struct {
	done chan struct{}
	body []byte
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	cur := h.cur
	if cur == nil {
		cur = &rendering{done: make(chan struct{})}
		h.cur = cur
		// Not on this request's context: the scrapers waiting for it
		// must not lose it when the first one hangs up.
		go h.render(cur, h.sizeHint)
	}
	h.mu.Unlock()
	select {
	case <-cur.done:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", string(expfmt.FmtText))
	w.Header().Set("Content-Length", strconv.Itoa(len(cur.body)))
	_, _ = w.Write(cur.body)
}

func (h *handler) render(cur *rendering, sizeHint int) {
	var buf bytes.Buffer
	buf.Grow(sizeHint + sizeHint/8)
	if h.jmx != nil {
		// JMX.Scrape bounds itself with SIDECAR_JMX_TIMEOUT.
		res, err := h.jmx.Scrape(context.Background(), &buf)
		if err != nil && h.log != nil {
			h.log.Warn("jmx exporter scrape failed", "err", err)
		}
		if res.Malformed > 0 && h.log != nil {
			h.log.Debug("jmx exporter lines skipped", "malformed", res.Malformed)
		}
	} else {
		h.reg.observeJMX(false, 0, 0)
	}
	mfs, err := h.reg.reg.Gather()
	if err != nil && h.log != nil {
		h.log.Error("gather sidecar metrics", "err", err)
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			break
		}
	}
	h.mu.Lock()
	h.cur = nil
	h.sizeHint = buf.Len()
	h.mu.Unlock()
	cur.body = buf.Bytes()
	close(cur.done)
}
