// Package bounded reads answers from outside the sidecar (Connect REST, the
// JMX exporter) with a size cap that ends in an error, never in a silent
// cut that a decoder would take for a complete or truncated answer. It
// knows nothing of what is read.
package bounded

import "io"

// Reader returns a reader of at most n bytes of r; reading past n fails
// with tooLarge when r has more.
func Reader(r io.Reader, n int64, tooLarge error) io.Reader {
	return &reader{r: r, n: n, tooLarge: tooLarge}
}

type reader struct {
	r        io.Reader
	n        int64
	tooLarge error
}

func (c *reader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// One byte more tells a body of exactly n bytes from a longer one.
		var one [1]byte
		if k, _ := io.ReadFull(c.r, one[:]); k > 0 {
			return 0, c.tooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	return k, err
}
