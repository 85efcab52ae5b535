package metrics

import (
	"bufio"
	"log/slog"
	"net/http"

	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics: the JMX passthrough first, then the sidecar's
// own registry. The passthrough goes first so that connect_sidecar_jmx_up
// and the scrape duration describe this very scrape. When the exporter is
// down the response still carries every sidecar metric and jmx_up 0.
// jmx may be nil (no passthrough); log may be nil.
func Handler(reg *Registry, jmx *JMX, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", string(expfmt.FmtText))
		bw := bufio.NewWriterSize(w, 32<<10)
		if jmx != nil {
			res, err := jmx.Scrape(r.Context(), bw)
			if err != nil && log != nil {
				log.Warn("jmx exporter scrape failed", "err", err)
			}
			if res.Malformed > 0 && log != nil {
				log.Debug("jmx exporter lines skipped", "malformed", res.Malformed)
			}
		} else {
			reg.observeJMX(false, 0, 0)
		}
		mfs, err := reg.reg.Gather()
		if err != nil && log != nil {
			log.Error("gather sidecar metrics", "err", err)
		}
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
				return
			}
		}
		_ = bw.Flush()
	})
}
