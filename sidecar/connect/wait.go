package connect

import (
	"context"
	"log/slog"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/retry"
)

// waitBackoff spaces the pings while Connect REST does not answer: a worker
// starting takes tens of seconds, one that is down may take minutes.
var waitBackoff = retry.Backoff{Initial: 500 * time.Millisecond, Max: 15 * time.Second}

// Wait pings Connect REST until it answers or ctx ends (then nil: the caller
// is stopping, not failing). Every report it logs what it waits for, for
// how long, and what to check.
func (c *Client) Wait(ctx context.Context, log *slog.Logger, report time.Duration) error {
	start := time.Now()
	reports := time.NewTicker(report)
	defer reports.Stop()
	next := time.NewTimer(0)
	defer next.Stop()
	var last error
	for attempt := 1; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-reports.C:
			if last != nil {
				log.Warn("still waiting for Connect REST", "url", c.BaseURL(), "waited", time.Since(start).Round(time.Second).String(),
					"attempts", attempt-1, "last_error", last.Error(),
					"check", "that the Kafka Connect worker runs and listens there (its log says why not) and that SIDECAR_CONNECT_URL names it")
			}
			continue
		case <-next.C:
		}
		err := c.Ping(ctx)
		if err == nil {
			log.Info("Connect REST is up", "url", c.BaseURL(), "after", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
		if attempt == 1 {
			log.Info("waiting for Connect REST", "url", c.BaseURL(), "error", err.Error(), "reports_every", report.String())
		} else {
			log.Debug("waiting for Connect REST", "url", c.BaseURL(), "attempt", attempt, "error", err.Error())
		}
		last = err
		next.Reset(waitBackoff.Delay(attempt))
		attempt++
	}
}
