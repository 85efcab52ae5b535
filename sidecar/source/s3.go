package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/mm2-fargate/mm2-ecs/sidecar/awsfail"
)

// maxAttempts is generous because the total deadline, not the attempt
// count, is what bounds a fetch.
const maxAttempts = 20

func (r *Reader) client(ctx context.Context) (*s3.Client, error) {
	r.once.Do(func() {
		// An answer that never starts would otherwise hold the one
		// attempt until the whole deadline is spent; a bound per attempt
		// lets the retryer try again. A BuildableClient keeps the SDK's
		// AWS_CA_BUNDLE handling.
		httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = r.opts.FetchDeadline / 4
			if r.dial != nil {
				t.DialContext = r.dial
			}
		})
		cfg, err := awsconfig.LoadDefaultConfig(ctx,
			awsconfig.WithHTTPClient(httpClient),
			awsconfig.WithRetryer(func() aws.Retryer {
				return retry.NewStandard(func(o *retry.StandardOptions) {
					o.MaxAttempts = maxAttempts
					o.MaxBackoff = r.opts.FetchDeadline / 4
					// Throttling and 5xx during a fleet-wide deploy are the
					// expected case here; do not run out of retry tokens.
					o.RateLimiter = noRateLimit{}
				})
			}))
		if err != nil {
			r.s3Err = fmt.Errorf("load AWS configuration: %w", err)
			return
		}
		if cfg.Region == "" {
			r.s3Err = errors.New("AWS_REGION is not set: s3:// URIs need the bucket's region, such as AWS_REGION=eu-west-1")
			return
		}
		// No credentials is said in plain words, and not retried.
		cfg.Credentials = awsfail.Credentials(cfg.Credentials)
		r.region = cfg.Region
		r.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
			// MinIO, LocalStack and other S3-protocol servers behind an
			// endpoint override want path-style addressing.
			if o.BaseEndpoint != nil {
				o.UsePathStyle = true
				r.endpoint = *o.BaseEndpoint
			}
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		})
	})
	return r.s3, r.s3Err
}

type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }

func (r *Reader) getS3(ctx context.Context, u URI) ([]byte, Object, error) {
	c, err := r.client(ctx)
	if err != nil {
		return nil, Object{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.FetchDeadline, errDeadline)
	defer cancel()
	in := &s3.GetObjectInput{Bucket: &u.Bucket, Key: &u.Key}
	call := r.call(u, "s3:GetObject", "arn:aws:s3:::"+u.Bucket+"/"+u.Key)
	if u.VersionID != "" {
		in.VersionId = &u.VersionID
		call.Action = "s3:GetObjectVersion"
	}
	a := r.attempts(ctx, u, call)
	defer a.done()
	out, err := c.GetObject(ctx, in, a.option)
	if err != nil {
		err = r.classify(ctx, err, a)
		var denied *awsfail.DeniedError
		if errors.As(err, &denied) {
			// S3 hides whether an object exists from a role that may not list.
			err = fmt.Errorf("%w; S3 answers so for a missing object too when the role lacks s3:ListBucket on arn:aws:s3:::%s", err, u.Bucket)
		}
		return nil, Object{}, err
	}
	defer out.Body.Close()
	if out.ContentLength != nil && *out.ContentLength > r.opts.MaxObjectBytes {
		r.count("error")
		return nil, Object{}, fmt.Errorf("%w: %d bytes, over %d (SIDECAR_MAX_OBJECT_BYTES)", ErrTooLarge, *out.ContentLength, r.opts.MaxObjectBytes)
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, r.opts.MaxObjectBytes+1))
	if err != nil {
		r.count("error")
		if ctx.Err() != nil {
			return nil, Object{}, r.ended(ctx, fmt.Errorf("read body: %w", err))
		}
		return nil, Object{}, fmt.Errorf("read body: %w", err)
	}
	if int64(len(b)) > r.opts.MaxObjectBytes {
		r.count("error")
		return nil, Object{}, fmt.Errorf("%w: over %d bytes (SIDECAR_MAX_OBJECT_BYTES)", ErrTooLarge, r.opts.MaxObjectBytes)
	}
	r.count("ok")
	return b, Object{URI: u.raw, Name: baseName(u.Key), Version: strings.Trim(aws.ToString(out.ETag), `"`), Size: int64(len(b))}, nil
}

func (r *Reader) listS3(ctx context.Context, u URI) ([]Object, error) {
	c, err := r.client(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.FetchDeadline, errDeadline)
	defer cancel()
	// The URI names a "directory", as a file:// one does: without the
	// slash, s3://b/connectors would also list connectors-old/….
	prefix := u.Key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	a := r.attempts(ctx, u, r.call(u, "s3:ListBucket", "arn:aws:s3:::"+u.Bucket+" (prefix "+strconv.Quote(prefix)+")"))
	defer a.done()
	var objs []Object
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &u.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, a.option)
		if err != nil {
			return nil, r.classify(ctx, err, a)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			name := strings.TrimPrefix(strings.TrimPrefix(key, prefix), "/")
			if name == "" || strings.HasSuffix(key, "/") || hiddenPath(name) {
				continue
			}
			objs = append(objs, Object{
				URI:     s3URI(u.Bucket, key),
				Name:    name,
				Version: strings.Trim(aws.ToString(o.ETag), `"`),
				Size:    aws.ToInt64(o.Size),
			})
		}
	}
	r.count("ok")
	return objs, nil
}

// classify turns SDK errors into the package's sentinel errors so that
// callers can tell "fix your IAM policy" from "try again later", and says
// in plain words what failed and what to check.
func (r *Reader) classify(ctx context.Context, err error, a *attempts) error {
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	status := 0
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchBucket":
		r.count("not_found")
		return fmt.Errorf("%w: bucket does not exist (NoSuchBucket)", ErrNotFound)
	case code == "NoSuchKey" || code == "NoSuchVersion" || status == http.StatusNotFound:
		r.count("not_found")
		return fmt.Errorf("%w: no such object (%s)", ErrNotFound, codeOr(code, "404"))
	}
	explained := awsfail.Explain(err, a.call)
	if errors.Is(explained, ErrAccessDenied) {
		r.count("denied")
		return explained
	}
	r.count("error")
	if ctx.Err() != nil {
		// The deadline cut short the attempt under way (or the wait before
		// it); the attempt before says what went wrong.
		if last := a.lastErr(); last != nil {
			var unreachable *awsfail.UnreachableError
			if explained = awsfail.Explain(last, a.call); !errors.As(explained, &unreachable) {
				explained = fmt.Errorf("last attempt: %s", awsfail.Reason(last, a.call))
			}
		}
		return r.ended(ctx, explained)
	}
	return explained
}

func (r *Reader) call(u URI, action, resource string) awsfail.Call {
	return awsfail.Call{Action: action, Resource: resource, Region: r.region, Endpoint: awsfail.S3Endpoint(r.region, r.endpoint, u.Bucket)}
}

// attempts follows one fetch's requests: it logs each retry with its
// attempt and reason, remembers the last failure, and while the fetch
// lasts says every WaitReport what it waits for and what to check.
type attempts struct {
	log  *slog.Logger
	uri  string
	call awsfail.Call
	mu   sync.Mutex
	last error
	over chan struct{}
}

func (r *Reader) attempts(ctx context.Context, u URI, call awsfail.Call) *attempts {
	a := &attempts{log: r.opts.Logger, uri: u.raw, call: call, over: make(chan struct{})}
	began := time.Now()
	go func() {
		t := time.NewTicker(r.opts.WaitReport)
		defer t.Stop()
		for {
			select {
			case <-a.over:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			attrs := []any{"uri", a.uri, "waited", time.Since(began).Round(time.Second).String(),
				"gives_up_after", r.opts.FetchDeadline.String() + " (SIDECAR_FETCH_DEADLINE)",
				"check", fmt.Sprintf("the network route to %s (region %s) and the role's %s", call.Endpoint, call.Region, call.Action)}
			if last := a.lastErr(); last != nil {
				attrs = append(attrs, "last_attempt", awsfail.Reason(last, call))
			}
			a.log.Warn("still waiting for S3", attrs...)
		}
	}()
	return a
}

func (a *attempts) done() { close(a.over) }

func (a *attempts) lastErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// option makes the request's retryer report each retry.
func (a *attempts) option(o *s3.Options) {
	if v2, ok := o.Retryer.(aws.RetryerV2); ok {
		o.Retryer = retryLog{RetryerV2: v2, a: a}
	}
}

type retryLog struct {
	aws.RetryerV2
	a *attempts
}

// RetryDelay is asked just before a retry, with the failure of the
// attempt before it.
func (l retryLog) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := l.RetryerV2.RetryDelay(attempt, err)
	l.a.mu.Lock()
	l.a.last = err
	l.a.mu.Unlock()
	if derr == nil {
		l.a.log.Info("S3 request failed; retrying", "uri", l.a.uri, "attempt", attempt, "max_attempts", l.MaxAttempts(),
			"reason", awsfail.Reason(err, l.a.call), "retry_in", d.Round(time.Millisecond).String())
	}
	return d, derr
}

func (r *Reader) count(outcome string) {
	if r.opts.Fetched != nil {
		r.opts.Fetched(outcome)
	}
}

func codeOr(code, fallback string) string {
	if code != "" {
		return code
	}
	return fallback
}

func baseName(key string) string {
	if i := strings.LastIndex(key, "/"); i >= 0 {
		return key[i+1:]
	}
	return key
}

func hiddenPath(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}
