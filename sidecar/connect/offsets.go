package connect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/mm2-fargate/mm2-ecs/sidecar/bounded"
)

// SourceOffsets streams the committed offsets of a MirrorMaker 2 source
// connector (GET /connectors/{name}/offsets, Kafka 3.5+) to fn one entry at
// a time, so that an answer for 100,000 partitions is never held in memory
// whole. MM2's partition is {"cluster", "topic", "partition"} and its
// offset {"offset"}; an entry of another shape (a missing key, a string
// where a number belongs, a fraction) is skipped, as Offsets' callers skip
// it. Errors are those of Offsets; an error from fn ends the read and is
// returned as is. When the answer turns out to be malformed part way, fn
// has already seen the entries before the fault.
func (c *Client) SourceOffsets(ctx context.Context, name string, fn func(cluster, topic string, partition int32, offset int64) error) error {
	const method = http.MethodGet
	path := connectorPath(name, "offsets")
	resp, err := c.open(ctx, method, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := &bodyReader{r: bounded.Reader(resp.Body, maxStreamedBytes, ErrAnswerTooLarge)}
	err = decodeSourceOffsets(body, fn)
	var fnErr *callbackError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fnErr):
		return fnErr.err
	case errors.Is(body.err, ErrAnswerTooLarge):
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Err: tooLarge(maxStreamedBytes)}
	case body.err != nil:
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Err: body.err}
	case errors.Is(err, errNoValue) && body.n == 0:
		return nil // an empty answer, which Offsets reads as no offsets
	}
	return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
}

// bodyReader remembers how much was read and the first read error, which
// the decoder would otherwise pass off as a malformed answer.
type bodyReader struct {
	r   io.Reader
	n   int64
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// callbackError carries fn's error out of the decoder untouched.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
